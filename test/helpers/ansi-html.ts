/**
 * Terminal text with SGR escape codes (what `tmux capture-pane -e -p` prints) as HTML, so a test can
 * render a terminal screen to a PNG in a real browser. Handles what terminals and tmux emit for
 * text attributes: reset, bold, dim, italic, underline, inverse, the 16 colours, 256 colours and
 * 24-bit colour, for foreground and background. Other escape sequences are dropped.
 */

export interface TerminalTheme {
  readonly foreground: string;
  readonly background: string;
  /** The 16 base colours: 0–7, then the bright 8–15. */
  readonly palette: readonly string[];
}

export const DARK_THEME: TerminalTheme = {
  foreground: '#d7dae0',
  background: '#1d2128',
  palette: [
    '#3f4451', '#e06c75', '#98c379', '#e5c07b', '#61afef', '#c678dd', '#56b6c2', '#d7dae0',
    '#5c6370', '#ff7b86', '#b5e890', '#ffd68a', '#8cc8ff', '#de9ef0', '#7fd4df', '#ffffff',
  ],
};

type Colour = { readonly index: number } | { readonly rgb: string } | undefined;

interface Attributes {
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  fg: Colour;
  bg: Colour;
}

const plainAttributes = (): Attributes => ({ bold: false, dim: false, italic: false, underline: false, inverse: false, fg: undefined, bg: undefined });

/** The HTML of the text's lines (for a <pre>): runs of equal attributes become one styled <span>. */
export function ansiToHtml(text: string, theme: TerminalTheme = DARK_THEME): string {
  let html = '';
  let attributes = plainAttributes();
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    const style = css(attributes, theme);
    html += style === '' ? escapeHtml(run) : `<span style="${style}">${escapeHtml(run)}</span>`;
    run = '';
  };
  const pattern = /\u001b\[([0-9;:?]*)([@-~])|\u001b[@-Z\\-_]|([^\u001b]+)/g;
  for (const match of text.matchAll(pattern)) {
    if (match[3] !== undefined) {
      run += match[3];
      continue;
    }
    if (match[2] !== 'm' || (match[1] ?? '').startsWith('?')) continue;
    flush();
    attributes = applySgr(attributes, match[1] ?? '');
  }
  flush();
  return html;
}

/** A whole page: the screen in a terminal-like window `columns` cells wide, without the screen's empty last rows. */
export function terminalPage(screen: string, options: { columns: number; title: string; theme?: TerminalTheme }): string {
  const theme = options.theme ?? DARK_THEME;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(options.title)}</title><style>
  html, body { margin: 0; background: #0f1115; }
  .window { display: inline-block; margin: 16px; border-radius: 8px; overflow: hidden; box-shadow: 0 6px 24px rgba(0,0,0,.5); background: ${theme.background}; }
  .bar { height: 28px; background: #2a2f38; color: #9aa2af; font: 13px sans-serif; display: flex; align-items: center; padding: 0 12px; gap: 7px; }
  .dot { width: 12px; height: 12px; border-radius: 50%; display: inline-block; }
  .title { margin-left: 10px; }
  /* line-height normal: the font's own ascent + descent, so box-drawing lines meet from row to row;
     16.61px makes DejaVu Sans Mono's advance (0.602 em) a whole 10 px, so block characters meet without seams. */
  pre { margin: 0; padding: 10px 12px; color: ${theme.foreground}; background: ${theme.background};
        font: 16.61px 'DejaVu Sans Mono', monospace; line-height: normal; width: ${options.columns}ch; }
</style></head><body><div class="window"><div class="bar"><span class="dot" style="background:#ff5f57"></span><span class="dot" style="background:#febc2e"></span><span class="dot" style="background:#28c840"></span><span class="title">${escapeHtml(options.title)}</span></div><pre>${ansiToHtml(withoutTrailingBlankLines(screen), theme)}</pre></div></body></html>
`;
}

function applySgr(current: Attributes, parameters: string): Attributes {
  const next = { ...current };
  const codes = parameters === '' ? [0] : parameters.split(/[;:]/).map((code) => (code === '' ? 0 : Number(code)));
  for (let i = 0; i < codes.length; i += 1) {
    const code = codes[i]!;
    if (code === 0) Object.assign(next, plainAttributes());
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 22) next.bold = next.dim = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code === 27) next.inverse = false;
    else if (code >= 30 && code <= 37) next.fg = { index: code - 30 };
    else if (code >= 90 && code <= 97) next.fg = { index: code - 90 + 8 };
    else if (code === 39) next.fg = undefined;
    else if (code >= 40 && code <= 47) next.bg = { index: code - 40 };
    else if (code >= 100 && code <= 107) next.bg = { index: code - 100 + 8 };
    else if (code === 49) next.bg = undefined;
    else if (code === 38 || code === 48) {
      let colour: Colour;
      if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        colour = { index: codes[i + 2]! };
        i += 2;
      } else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        colour = { rgb: `rgb(${codes[i + 2]}, ${codes[i + 3]}, ${codes[i + 4]})` };
        i += 4;
      }
      if (code === 38) next.fg = colour;
      else next.bg = colour;
    }
  }
  return next;
}

function css(attributes: Attributes, theme: TerminalTheme): string {
  let fg = colourCss(attributes.fg, theme);
  let bg = colourCss(attributes.bg, theme);
  if (attributes.inverse) [fg, bg] = [bg ?? theme.background, fg ?? theme.foreground];
  const rules: string[] = [];
  if (fg !== undefined) rules.push(`color:${fg}`);
  if (bg !== undefined) rules.push(`background:${bg}`);
  if (attributes.bold) rules.push('font-weight:bold');
  if (attributes.dim) rules.push('opacity:0.6');
  if (attributes.italic) rules.push('font-style:italic');
  if (attributes.underline) rules.push('text-decoration:underline');
  return rules.join(';');
}

/** The 16 colours from the theme, then xterm's 6×6×6 cube and grey ramp. */
function colourCss(colour: Colour, theme: TerminalTheme): string | undefined {
  if (colour === undefined) return undefined;
  if ('rgb' in colour) return colour.rgb;
  const index = colour.index;
  if (index < 16) return theme.palette[index];
  if (index < 232) {
    const level = (n: number): number => (n === 0 ? 0 : 55 + 40 * n);
    const cube = index - 16;
    return `rgb(${level(Math.floor(cube / 36))}, ${level(Math.floor(cube / 6) % 6)}, ${level(cube % 6)})`;
  }
  if (index < 256) {
    const grey = 8 + 10 * (index - 232);
    return `rgb(${grey}, ${grey}, ${grey})`;
  }
  return undefined;
}

function withoutTrailingBlankLines(screen: string): string {
  const lines = screen.split('\n');
  while (lines.length > 0 && lines[lines.length - 1]!.replace(/\u001b\[[0-9;:]*m/g, '').trim() === '') lines.pop();
  return lines.join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
