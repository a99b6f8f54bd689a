import { describe, expect, it } from 'vitest';
import { NotADcgmPageError, parseDcgm } from '../../../src/routing/dcgm.js';

// As dcgm-exporter 3.x writes it (trimmed), two GPUs.
const PAGE = `# HELP DCGM_FI_DEV_SM_CLOCK SM clock frequency (in MHz).
# TYPE DCGM_FI_DEV_SM_CLOCK gauge
DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-aaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 1410
# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 87
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-bbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 3
# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-aaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 8000
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-bbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 81000
# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-aaa",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 73000
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-bbb",device="nvidia1",modelName="NVIDIA A100-SXM4-80GB",Hostname="node1"} 920
`;

describe('parseDcgm', () => {
  it('reads memory (MiB), utilisation (%) and the model name per GPU', () => {
    expect(parseDcgm(PAGE, 5)).toEqual({
      scrapedAt: 5,
      gpus: [
        { gpu: '0', name: 'NVIDIA A100-SXM4-80GB', usedMiB: 73000, freeMiB: 8000, utilizationPercent: 87 },
        { gpu: '1', name: 'NVIDIA A100-SXM4-80GB', usedMiB: 920, freeMiB: 81000, utilizationPercent: 3 },
      ],
    });
  });

  it('needs both memory series of a GPU; utilisation is optional; non-finite and negative samples are ignored', () => {
    const page = 'DCGM_FI_DEV_FB_USED{gpu="0"} 10\nDCGM_FI_DEV_FB_FREE{gpu="0"} 20\nDCGM_FI_DEV_GPU_UTIL{gpu="0"} NaN\nDCGM_FI_DEV_FB_USED{gpu="1"} 5\nDCGM_FI_DEV_FB_FREE{gpu="2"} -1\n';
    expect(parseDcgm(page, 0).gpus).toEqual([{ gpu: '0', name: undefined, usedMiB: 10, freeMiB: 20, utilizationPercent: undefined }]);
  });

  it('refuses a page without GPU memory (a vLLM /metrics page, say)', () => {
    expect(() => parseDcgm('vllm:num_requests_waiting{model_name="m"} 0\n', 0)).toThrow(NotADcgmPageError);
    expect(() => parseDcgm('', 0)).toThrow(NotADcgmPageError);
  });
});
