/** The parts of a Grafana dashboard JSON the tests read. */
export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly templating: { readonly list: ReadonlyArray<{ readonly name: string; readonly type: string; readonly query?: unknown }> };
  readonly panels: readonly PanelJson[];
}

export interface PanelJson {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly datasource: unknown;
  readonly fieldConfig: { readonly defaults: { readonly unit?: string } };
  readonly targets: ReadonlyArray<{ readonly refId: string; readonly expr: string; readonly legendFormat?: string; readonly exemplar?: boolean; readonly instant?: boolean }>;
  /** A row's collapsed panels. */
  readonly panels?: readonly PanelJson[];
}

/** Every panel that shows data, rows' collapsed panels included. */
export function dashboardPanels(dashboard: DashboardJson): PanelJson[] {
  return dashboard.panels.flatMap((panel) => (panel.type === 'row' ? [...(panel.panels ?? [])] : [panel]));
}

/**
 * A panel query as Grafana sends it: template variables replaced by their values (a multi-value
 * variable of one regex value, as Grafana writes `All` with allValue `.*`) and `$__rate_interval`
 * by the interval Grafana would compute.
 */
export function interpolate(expr: string, variables: Readonly<Record<string, string>>, rateInterval: string): string {
  let result = expr.replaceAll('$__rate_interval', rateInterval);
  for (const [name, value] of Object.entries(variables)) result = result.replaceAll(`$${name}`, value).replaceAll(`\${${name}}`, value);
  return result;
}
