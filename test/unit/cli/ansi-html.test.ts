import { describe, expect, it } from 'vitest';
import { ansiToHtml, DARK_THEME, terminalPage } from '../../helpers/ansi-html.js';

const [, RED, GREEN, , BLUE] = DARK_THEME.palette;

describe('ansiToHtml (the screenshot helper)', () => {
  it('turns runs of SGR attributes into styled spans and leaves plain text plain', () => {
    expect(ansiToHtml('plain')).toBe('plain');
    expect(ansiToHtml('\u001b[31mred\u001b[0m and \u001b[1;32mbold green\u001b[0m')).toBe(
      `<span style="color:${RED}">red</span> and <span style="color:${GREEN};font-weight:bold">bold green</span>`,
    );
  });

  it('keeps attributes until they are switched off, as tmux writes them', () => {
    // tmux capture-pane -e: "\e[34m┌─ \e[1m\e[39mTollbooth\e[0m\e[39m\e[49m \e[2mhttp…\e[0m"
    const html = ansiToHtml('\u001b[34m┌─ \u001b[1m\u001b[39mTollbooth\u001b[0m\u001b[39m\u001b[49m \u001b[2murl\u001b[0m');
    expect(html).toBe(`<span style="color:${BLUE}">┌─ </span><span style="font-weight:bold">Tollbooth</span> <span style="opacity:0.6">url</span>`);
    expect(ansiToHtml('\u001b[1;2mx\u001b[22my')).toBe('<span style="font-weight:bold;opacity:0.6">x</span>y');
  });

  it('reads bright, 256 and 24-bit colours, backgrounds and inverse', () => {
    expect(ansiToHtml('\u001b[91ma')).toBe(`<span style="color:${DARK_THEME.palette[9]}">a</span>`);
    expect(ansiToHtml('\u001b[38;5;196ma')).toBe('<span style="color:rgb(255, 0, 0)">a</span>');
    expect(ansiToHtml('\u001b[38;5;244ma')).toBe('<span style="color:rgb(128, 128, 128)">a</span>');
    expect(ansiToHtml('\u001b[48;2;1;2;3ma')).toBe('<span style="background:rgb(1, 2, 3)">a</span>');
    expect(ansiToHtml('\u001b[1;37;41mALARM')).toBe(`<span style="color:${DARK_THEME.palette[7]};background:${RED};font-weight:bold">ALARM</span>`);
    expect(ansiToHtml('\u001b[7mx')).toBe(`<span style="color:${DARK_THEME.background};background:${DARK_THEME.foreground}">x</span>`);
  });

  it('escapes HTML and drops escape sequences that are not about colour', () => {
    expect(ansiToHtml('<b>&"</b>')).toBe('&lt;b&gt;&amp;&quot;&lt;/b&gt;');
    expect(ansiToHtml('\u001b[?25l\u001b[2J\u001b[3;1Hx\u001b[K')).toBe('x');
  });

  it('wraps the screen in a page of the terminal’s width, without its empty last rows', () => {
    const page = terminalPage('\u001b[32mok\u001b[0m\n\u001b[0m   \n\n', { columns: 80, title: 'tollbooth top' });
    expect(page).toContain(`<pre><span style="color:${GREEN}">ok</span></pre>`);
    expect(page).toContain('width: 80ch');
    expect(page).toContain('<title>tollbooth top</title>');
  });
});
