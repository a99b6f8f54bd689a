import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { shippedNodeFlags } from '../../helpers/shipped-node-flags.js';

describe('the node flags the gateway ships with', () => {
  it('are the ones between node and the CLI in the image ENTRYPOINT', () => {
    expect(shippedNodeFlags('FROM x\nENTRYPOINT ["node", "--a=1", "--b", "dist/src/cli/tollbooth.js"]\nCMD ["start"]\n')).toEqual(['--a=1', '--b']);
    expect(shippedNodeFlags('ENTRYPOINT ["node", "dist/src/cli/tollbooth.js"]')).toEqual([]);
    expect(() => shippedNodeFlags('ENTRYPOINT ["sh", "-c", "node x"]')).toThrow(/unexpected ENTRYPOINT/);
    expect(() => shippedNodeFlags('CMD ["node"]')).toThrow(/no ENTRYPOINT/);
  });

  it('are the same in the image and in the CLI shebang (the npm bin)', () => {
    const shebang = readFileSync('src/cli/tollbooth.ts', 'utf8').split('\n')[0]!;
    const flags = shippedNodeFlags();
    expect(flags).toContain('--max-semi-space-size=32');
    expect(shebang).toBe(`#!/usr/bin/env -S node ${flags.join(' ')}`);
  });
});
