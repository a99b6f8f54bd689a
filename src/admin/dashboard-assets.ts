import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface DashboardAsset {
  readonly contentType: string;
  readonly body: Buffer;
}

/** The page's URL paths (all under /dashboard) and where their bytes come from. */
const PAGE_FILES = [
  { path: '/dashboard', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { path: '/dashboard/dashboard.js', file: 'dashboard.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/dashboard.css', file: 'dashboard.css', contentType: 'text/css; charset=utf-8' },
] as const;

/** uPlot from the installed npm package (its own dist files, as published). */
const UPLOT_FILES = [
  { path: '/dashboard/uplot.min.js', file: 'uplot/dist/uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' },
  { path: '/dashboard/uplot.min.css', file: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
] as const;

/**
 * The dashboard's files, read once (at boot): the page's own HTML, script and style from
 * src/admin/dashboard/ (the build copies them beside the compiled module, see package.json's build
 * script), and uPlot from node_modules. Nothing is fetched from elsewhere at run time, and a missing
 * file fails the boot rather than the first page view.
 */
export function loadDashboardAssets(): ReadonlyMap<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  for (const { path, file, contentType } of PAGE_FILES) {
    assets.set(path, { contentType, body: readFileSync(new URL(`./dashboard/${file}`, import.meta.url)) });
  }
  const require = createRequire(import.meta.url);
  for (const { path, file, contentType } of UPLOT_FILES) assets.set(path, { contentType, body: readFileSync(require.resolve(file)) });
  return assets;
}

let loaded: ReadonlyMap<string, DashboardAsset> | undefined;

/** The assets, read on first use and kept: every admin app of the process shares the same bytes. */
export function dashboardAssets(): ReadonlyMap<string, DashboardAsset> {
  loaded ??= loadDashboardAssets();
  return loaded;
}
