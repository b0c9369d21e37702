// What check.mjs holds each dashboard JSON to: @grafana/schema's Dashboard type, as JSON spells it, with its
// annotations typed for the Prometheus data source.
import type { AnnotationContainer, AnnotationQuery, Dashboard, DataQuery } from '@grafana/schema';

// The schema types its closed string sets as string enums (FieldColorModeId, ThresholdsMode, MappingType...),
// and a string enum accepts only its own members, never the string a JSON file holds: "absolute" is not
// assignable to ThresholdsMode although ThresholdsMode.Absolute = "absolute".  JsonOf swaps each string enum
// for the union of its values (`${E}`) and keeps every other type, field and optional marker, so unknown,
// missing and mistyped fields stay errors.
export type JsonOf<T> =
  T extends string ? `${T}` :
  T extends number | boolean | null | undefined ? T :
  T extends ReadonlyArray<infer U> ? Array<JsonOf<U>> :
  T extends object ? { [K in keyof T]: JsonOf<T[K]> } :
  T;

// Dashboard leaves an annotation's query at the DataQuery base (refId, hide...): each data source declares its
// own.  @grafana/schema no longer ships Prometheus's (it moved to @grafana/prometheus, dataquery.ts), so these
// are the fields of that query and of the Prometheus annotation support (annotations.ts) the dashboards use:
// the query with `interval` as its min step, and the title, text and tags templates its event processing
// reads off the annotation itself.
export interface PrometheusQuery extends DataQuery {
  editorMode?: 'builder' | 'code';
  exemplar?: boolean;
  expr: string;
  format?: 'time_series' | 'table' | 'heatmap';
  instant?: boolean;
  interval?: string;
  legendFormat?: string;
  range?: boolean;
}

export interface PrometheusAnnotation extends AnnotationQuery<PrometheusQuery> {
  tagKeys?: string;
  textFormat?: string;
  titleFormat?: string;
  useValueForTime?: boolean;
}

export type DashboardJson = JsonOf<Omit<Dashboard, 'annotations'> & {
  annotations?: Omit<AnnotationContainer, 'list'> & { list?: Array<AnnotationQuery | PrometheusAnnotation> };
}>;
