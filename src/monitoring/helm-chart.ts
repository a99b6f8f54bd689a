import { z } from 'zod';
import { storedKeySchema } from '../auth/policy.js';

/**
 * The generated parts of the Helm chart (deploy/helm/tollbooth/). Helm reads no file outside the
 * chart's directory, so the chart carries generated copies of the rules and dashboards, written by
 * `npm run generate:monitoring` beside deploy/prometheus and deploy/grafana from the same source,
 * and a values.schema.json whose `config` part is Tollbooth's own configuration schema.
 */
export const HELM_CHART_DIR = 'deploy/helm/tollbooth';
export const HELM_VALUES_SCHEMA_FILE = `${HELM_CHART_DIR}/values.schema.json`;
/** The PrometheusRule's spec (`groups:`), the same groups as deploy/prometheus/tollbooth-rules.yaml. */
export const HELM_RULES_FILE = `${HELM_CHART_DIR}/files/prometheus-rules.yaml`;
/** The dashboards' JSON, one ConfigMap each. */
export const HELM_DASHBOARDS_DIR = `${HELM_CHART_DIR}/files/dashboards`;

type JsonSchema = Record<string, unknown>;

const text = { type: 'string' } as const;
const integer = (minimum: number): JsonSchema => ({ type: 'integer', minimum });
const object = (properties: Record<string, JsonSchema>): JsonSchema => ({ type: 'object', properties, additionalProperties: false });
/** A zod schema's input as JSON Schema, without its own dialect line (it sits inside this document). */
function fromZod(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  return json;
}
/** Passed through to Kubernetes as written (the API server checks it). */
const kubernetesObject = (description: string): JsonSchema => ({ type: 'object', description });
const kubernetesList = (description: string): JsonSchema => ({ type: 'array', description, items: { type: 'object' } });
const stringMap = (description: string): JsonSchema => ({ type: 'object', description, additionalProperties: { type: 'string' } });
const optionalTarget = (description: string): JsonSchema => ({ description, anyOf: [{ type: 'null' }, { type: 'number', exclusiveMinimum: 0 }] });

/**
 * The chart's values schema: the chart's own keys (typos fail the install: no key outside them is
 * accepted), and under `config` the JSON Schema zod derives from Tollbooth's configuration schema
 * (given by the caller: config/schema.ts composes the folders' schemas, some of which read this
 * mixin's defaults), as its input (defaults make fields optional). Refinements that JSON Schema cannot say (a replica
 * or a discovery entry is required, ports differ) are checked by the gateway at boot
 * (`tollbooth check-config`).
 */
export function helmValuesSchema(configSchema: z.ZodType): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Values of the Tollbooth Helm chart',
    type: 'object',
    additionalProperties: false,
    required: ['config'],
    properties: {
      global: { type: 'object', description: 'Helm passes global values to every chart' },
      replicaCount: integer(0),
      image: object({ repository: { type: 'string', minLength: 1 }, tag: text, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } }),
      imagePullSecrets: kubernetesList('LocalObjectReference list'),
      nameOverride: text,
      fullnameOverride: text,
      serviceAccount: object({ create: { type: 'boolean' }, name: text, annotations: stringMap('annotations') }),
      config: { ...fromZod(configSchema), description: "Tollbooth's configuration file (src/config/schema.ts)" },
      apiKeys: object({
        enabled: { type: 'boolean' },
        existingSecret: text,
        secretKey: { type: 'string', minLength: 1 },
        keys: { type: 'array', description: 'entries of the keys file (hashes, as auth.keys)', items: fromZod(storedKeySchema) },
      }),
      adminTls: object({ enabled: { type: 'boolean' }, secretName: { type: 'string', minLength: 1 }, clientCa: { type: 'boolean' }, requireClientCertificate: { type: 'boolean' } }),
      redis: object({ existingSecret: text, secretKey: { type: 'string', minLength: 1 } }),
      env: kubernetesList('EnvVar list of the gateway container'),
      service: object({
        type: { enum: ['ClusterIP', 'NodePort', 'LoadBalancer'] },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        annotations: stringMap('annotations'),
      }),
      metricsService: object({ enabled: { type: 'boolean' }, annotations: stringMap('annotations') }),
      resources: kubernetesObject('ResourceRequirements of the gateway container'),
      lifecycle: object({ preStopSleepSeconds: integer(0), terminationExtraSeconds: integer(0) }),
      probes: object({
        startup: object({ periodSeconds: integer(1), failureThreshold: integer(1) }),
        liveness: object({ periodSeconds: integer(1), timeoutSeconds: integer(1), failureThreshold: integer(1) }),
        readiness: object({ periodSeconds: integer(1), timeoutSeconds: integer(1), failureThreshold: integer(1) }),
      }),
      podSecurityContext: kubernetesObject('PodSecurityContext'),
      securityContext: kubernetesObject('SecurityContext of the gateway container'),
      topologySpreadConstraints: kubernetesList('TopologySpreadConstraint list; empty: the chart spreads over nodes and zones'),
      podAnnotations: stringMap('annotations'),
      podLabels: stringMap('labels'),
      nodeSelector: stringMap('node labels'),
      tolerations: kubernetesList('Toleration list'),
      affinity: kubernetesObject('Affinity'),
      priorityClassName: text,
      autoscaling: object({
        enabled: { type: 'boolean' },
        minReplicas: integer(1),
        maxReplicas: integer(1),
        targetCPUUtilizationPercentage: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1 }] },
        targetInFlightRequests: optionalTarget('average tollbooth_in_flight_requests per pod (custom metrics API)'),
        targetEngineWaitingRequests: optionalTarget('average tollbooth_engine_waiting_requests per pod (custom metrics API)'),
        behavior: kubernetesObject('HorizontalPodAutoscalerBehavior'),
      }),
      podDisruptionBudget: object({
        enabled: { type: 'boolean' },
        minAvailable: { type: ['integer', 'string'] },
        maxUnavailable: { type: ['integer', 'string', 'null'] },
      }),
      serviceMonitor: object({
        enabled: { type: 'boolean' },
        interval: text,
        scrapeTimeout: text,
        labels: stringMap('labels'),
        job: { type: 'string', minLength: 1 },
        tlsConfig: kubernetesObject('SafeTLSConfig of the scrape (adminTls)'),
      }),
      prometheusRule: object({ enabled: { type: 'boolean' }, labels: stringMap('labels') }),
      grafanaDashboards: object({ enabled: { type: 'boolean' }, labels: stringMap('labels'), annotations: stringMap('annotations'), namespace: text }),
      networkPolicy: object({
        enabled: { type: 'boolean' },
        apiFrom: kubernetesList('NetworkPolicyPeer list'),
        metricsFrom: kubernetesList('NetworkPolicyPeer list'),
      }),
      tests: object({ image: { type: 'string', minLength: 1 } }),
    },
  };
}
