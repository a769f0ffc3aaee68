import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkImagesPinned,
  checkListenPorts,
  checkLoopbackDefaultsOverridden,
  checkNetworkPolicyPorts,
  checkNodeOptions,
  checkPdbsAndProbes,
  checkProberIdentity,
  checkReferencedConfig,
  checkSecurityContexts,
  checkServicesAndMonitors,
  workloads,
} from './manifest-checks.js';
import { renderOverlay, repoRoot, type K8sObject } from './render.js';
import { schemaProblems } from './schema-validation.js';

/** The ports each service opens by default, read from its own settings (services/<name>/src/main.ts). */
function servicePortDefaults(): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const name of readdirSync(join(repoRoot, 'services'))) {
    const main = join(repoRoot, 'services', name, 'src', 'main.ts');
    if (!existsSync(main)) continue;
    const text = readFileSync(main, 'utf8');
    const ports = new Map<string, number>();
    const grpc = /grpcSettings\((\d+)\)/.exec(text);
    const metrics = /metricsPort: (\d+)/.exec(text);
    if (grpc) ports.set('GRPC_PORT', Number(grpc[1]));
    if (metrics) ports.set('METRICS_PORT', Number(metrics[1]));
    // A port setting of the service's own spec (the dns-gateway's DNS_PORT).
    for (const m of text.matchAll(/env: '([A-Z_]+_PORT)'[^}]*?default: (\d+)/g)) ports.set(m[1]!, Number(m[2]));
    out.set(name, ports);
  }
  return out;
}

/**
 * The settings of each service whose default is a loopback address: its own (`default: '127.0.0.1…'`
 * or `['127.0.0.1:…']` in services/<name>/src/main.ts) and the shared ones it includes (the gRPC
 * and metrics listen addresses, the config-watcher address, the etcd endpoints).
 */
function loopbackDefaults(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name of readdirSync(join(repoRoot, 'services'))) {
    const main = join(repoRoot, 'services', name, 'src', 'main.ts');
    if (!existsSync(main)) continue;
    const text = readFileSync(main, 'utf8');
    if (!text.includes('runService')) continue;
    const settings = ['METRICS_HOST'];
    if (text.includes('grpcSettings(')) settings.push('GRPC_HOST');
    if (text.includes('configWatcherSetting')) settings.push('CONFIG_WATCHER');
    if (text.includes('etcdSettings')) settings.push('ETCD_ENDPOINTS');
    for (const m of text.matchAll(/env: '([A-Z_]+)'[^}]*?default: \[?'(?:https?:\/\/)?127\./g)) settings.push(m[1]!);
    out.set(name, settings);
  }
  return out;
}

/** Each service's Node options: `cdnSched.nodeOptions` of services/<name>/package.json. */
function serviceNodeOptions(): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(join(repoRoot, 'services'))) {
    const manifest = join(repoRoot, 'services', name, 'package.json');
    if (!existsSync(manifest)) continue;
    const options = (JSON.parse(readFileSync(manifest, 'utf8')) as { cdnSched?: { nodeOptions?: string } }).cdnSched?.nodeOptions;
    if (options) out.set(name, options);
  }
  return out;
}

const overlays = { dev: renderOverlay('dev'), prod: renderOverlay('prod') };
const find = (objects: readonly K8sObject[], kind: string, name: string): K8sObject | undefined => objects.find((o) => o.kind === kind && o.metadata.name === name);
const clone = (objects: readonly K8sObject[]): K8sObject[] => structuredClone(objects) as K8sObject[];

describe.each(Object.entries(overlays))('overlay %s', (_name, objects) => {
  it('renders the whole mesh into one namespace', () => {
    expect(workloads(objects).map((w) => w.name).sort()).toEqual(['config-watcher', 'dns-gateway', 'prober', 'resolver', 'weight-calculator']);
    for (const o of objects) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('cdn-sched');
  });

  it('validates every object against the Kubernetes, Prometheus-operator and cert-manager schemas', async () => {
    const problems = (await Promise.all(objects.map(schemaProblems))).flat();
    expect(problems).toEqual([]);
  });

  it('gives every Deployment a PodDisruptionBudget and startup, readiness and liveness probes', () => {
    expect(checkPdbsAndProbes(objects)).toEqual([]);
  });

  it('opens the ports the services listen on (their own settings), and NetworkPolicies allow only those', () => {
    const defaults = servicePortDefaults();
    expect(defaults.get('resolver')?.get('GRPC_PORT')).toBe(50054);
    expect(checkListenPorts(objects, defaults)).toEqual([]);
    expect(checkNetworkPolicyPorts(objects)).toEqual([]);
  });

  it("runs every service with its own Node options (its package.json's cdnSched.nodeOptions)", () => {
    const nodeOptions = serviceNodeOptions();
    expect(nodeOptions.get('resolver')).toBe('--max-semi-space-size=2');
    expect(checkNodeOptions(objects, nodeOptions)).toEqual([]);
  });

  it('sets every address whose default is loopback (peers to dial, addresses to listen on)', () => {
    const loopback = loopbackDefaults();
    // The dns-gateway's own (RESOLVERS, DNS_HOST) and shared (CONFIG_WATCHER) ones are found.
    expect(loopback.get('dns-gateway')).toEqual(expect.arrayContaining(['RESOLVERS', 'DNS_HOST', 'CONFIG_WATCHER', 'METRICS_HOST']));
    expect(checkLoopbackDefaultsOverridden(objects, loopback)).toEqual([]);
  });

  it('pins every image and references only Secrets and ConfigMaps that the overlay contains', () => {
    expect(checkImagesPinned(objects)).toEqual([]);
    expect(checkReferencedConfig(objects)).toEqual([]);
  });

  it('runs every container non-root, read-only, without privilege escalation or capabilities', () => {
    expect(checkSecurityContexts(objects)).toEqual([]);
  });

  it('puts a headless Service over every gRPC port and a ServiceMonitor on every metrics port', () => {
    expect(checkServicesAndMonitors(objects)).toEqual([]);
  });

  it('serves DNS on UDP and TCP 53 through a LoadBalancer that keeps client addresses', () => {
    const svc = find(objects, 'Service', 'dns-gateway') as unknown as { spec: { type: string; externalTrafficPolicy: string; ports: { port: number; protocol: string }[] } };
    expect(svc.spec.type).toBe('LoadBalancer');
    expect(svc.spec.externalTrafficPolicy).toBe('Local');
    expect(svc.spec.ports.map((p) => `${p.protocol}/${p.port}`).sort()).toEqual(['TCP/53', 'UDP/53']);
  });
});

describe('replicas and autoscaling', () => {
  const replicas = (objects: readonly K8sObject[]): Record<string, number | undefined> => Object.fromEntries(workloads(objects).map((w) => [w.name, w.replicas]));

  it('dev runs one replica of each service and no autoscaler', () => {
    expect(replicas(overlays.dev)).toEqual({ 'config-watcher': 1, prober: 1, 'weight-calculator': 1, resolver: 1, 'dns-gateway': 1 });
    expect(overlays.dev.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('prod runs config-watcher x2, prober x3, weight-calculator x2, and autoscales resolver and dns-gateway on CPU and a per-pod rate', () => {
    expect(replicas(overlays.prod)).toEqual({ 'config-watcher': 2, prober: 3, 'weight-calculator': 2, resolver: undefined, 'dns-gateway': undefined });
    for (const name of ['resolver', 'dns-gateway']) {
      const hpa = find(overlays.prod, 'HorizontalPodAutoscaler', name) as unknown as {
        spec: { scaleTargetRef: { kind: string; name: string }; minReplicas: number; metrics: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[] };
      };
      expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.metrics.map((m) => m.resource?.name ?? m.pods?.metric.name)).toEqual(['cpu', name === 'resolver' ? 'cdn_resolver_decisions_per_second' : 'cdn_dns_queries_per_second']);
    }
  });

  it('probes gRPC services natively (grpc.health.v1) where the port is plaintext, and over HTTP where it needs mTLS', () => {
    const startup = (objects: readonly K8sObject[]): Record<string, string> =>
      Object.fromEntries(
        workloads(objects).map((w) => {
          const p = w.pod.containers[0]!.startupProbe as { grpc?: { port: number }; httpGet?: { path: string } };
          return [w.name, p.grpc ? `grpc ${p.grpc.port}` : `http ${p.httpGet?.path}`];
        }),
      );
    expect(startup(overlays.dev)).toEqual({ 'config-watcher': 'grpc 50051', prober: 'grpc 50052', 'weight-calculator': 'grpc 50053', resolver: 'grpc 50054', 'dns-gateway': 'http /healthz' });
    expect(startup(overlays.prod)).toEqual({ 'config-watcher': 'http /readyz', prober: 'http /readyz', 'weight-calculator': 'http /readyz', resolver: 'http /readyz', 'dns-gateway': 'http /healthz' });
  });

  it('prod gives every service mTLS files and the etcd clients TLS files, all from cert-manager Certificates', () => {
    for (const w of workloads(overlays.prod)) {
      const env = new Map((w.pod.containers[0]!.env ?? []).map((e) => [e.name, e.value]));
      for (const setting of ['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']) expect(env.get(setting), `${w.name} ${setting}`).toMatch(/^\/etc\/cdn-sched\/tls\//);
      const etcd = ['config-watcher', 'prober', 'weight-calculator'].includes(w.name);
      expect(env.get('ETCD_CA_FILE'), w.name).toBe(etcd ? '/etc/cdn-sched/etcd/ca.crt' : undefined);
      if (etcd) expect(env.get('ETCD_ENDPOINTS')?.split(',').every((e) => e.startsWith('https://'))).toBe(true);
    }
  });

  it("prod gives each prober pod its own certificate named after the pod, the same name as its prober id", () => {
    expect(checkProberIdentity(overlays.prod)).toEqual([]);
    // No shared prober Certificate is left behind (it named only "prober", which no prober id is).
    expect(overlays.prod.filter((o) => o.kind === 'Certificate' && /^prober-tls$/.test(o.metadata.name))).toEqual([]);
    const prober = workloads(overlays.prod).find((w) => w.name === 'prober')!;
    expect(prober.pod.volumes?.find((v) => v.name === 'tls')?.csi?.volumeAttributes?.['csi.cert-manager.io/common-name']).toBe('${POD_NAME}');
  });
});

describe('the checks catch what they are for', () => {
  const base = overlays.prod;

  it('a Deployment without a PDB or a probe', () => {
    const objects = clone(base).filter((o) => !(o.kind === 'PodDisruptionBudget' && o.metadata.name === 'prober'));
    const resolver = find(objects, 'Deployment', 'resolver') as unknown as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    delete resolver.spec.template.spec.containers[0]!['livenessProbe'];
    expect(checkPdbsAndProbes(objects)).toEqual(['Deployment/prober: no PodDisruptionBudget selects its pods', 'Deployment/resolver container resolver: no livenessProbe']);
  });

  it('a NetworkPolicy port nobody listens on, and a container port that differs from its setting', () => {
    const objects = clone(base);
    const np = find(objects, 'NetworkPolicy', 'resolver') as unknown as { spec: { ingress: { ports: { port: number }[] }[] } };
    np.spec.ingress[0]!.ports[0]!.port = 50055;
    expect(checkNetworkPolicyPorts(objects)).toEqual(['NetworkPolicy/resolver: allows TCP 50055 in, but Deployment/resolver does not listen on it']);
    const cw = find(objects, 'Deployment', 'config-watcher') as unknown as { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
    cw.spec.template.spec.containers[0]!.env.find((e) => e.name === 'GRPC_PORT')!.value = '50061';
    expect(checkListenPorts(objects, new Map())).toEqual(['Deployment/config-watcher container config-watcher: port grpc is 50051 but GRPC_PORT is 50061']);
  });

  it("a Deployment without its service's Node options", () => {
    const objects = clone(base);
    const resolver = find(objects, 'Deployment', 'resolver') as unknown as { spec: { template: { spec: { containers: { env: { name: string }[] }[] } } } };
    const container = resolver.spec.template.spec.containers[0]!;
    container.env = container.env.filter((e) => e.name !== 'NODE_OPTIONS');
    expect(checkNodeOptions(objects, serviceNodeOptions())).toEqual(["Deployment/resolver container resolver: NODE_OPTIONS is '' but services/resolver/package.json says '--max-semi-space-size=2'"]);
  });

  it('a Deployment that leaves a peer address at its loopback default', () => {
    const broken = clone(overlays.prod);
    const gateway = find(broken, 'Deployment', 'dns-gateway') as unknown as { spec: { template: { spec: { containers: { env: { name: string }[] }[] } } } };
    const container = gateway.spec.template.spec.containers[0]!;
    container.env = container.env.filter((e) => e.name !== 'CONFIG_WATCHER');
    expect(checkLoopbackDefaultsOverridden(broken, loopbackDefaults())).toEqual(['Deployment/dns-gateway container dns-gateway: CONFIG_WATCHER is not set, and its default is a loopback address']);
  });

  it('an unpinned image and a missing Secret', () => {
    const objects = clone(base).filter((o) => !(o.kind === 'Certificate' && o.metadata.name === 'prober-etcd-client'));
    const wc = find(objects, 'Deployment', 'weight-calculator') as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } };
    wc.spec.template.spec.containers[0]!.image = 'ghcr.io/cdn-sched/cdn-sched:latest';
    expect(checkImagesPinned(objects)).toEqual(['Deployment/weight-calculator container weight-calculator: image ghcr.io/cdn-sched/cdn-sched:latest is not pinned to a version tag or digest']);
    expect(checkReferencedConfig(objects)).toEqual(['Deployment/prober volume etcd-tls: Secret prober-etcd-client is not in the overlay']);
  });

  it('a prober certificate shared by every pod, and a prober id that is not the pod name', () => {
    type ProberPod = { spec: { template: { spec: { containers: { env: { name: string; value?: string; valueFrom?: unknown }[] }[]; volumes: Record<string, unknown>[] } } } };
    const shared = clone(base);
    const pod = (find(shared, 'Deployment', 'prober') as unknown as ProberPod).spec.template.spec;
    const tls = pod.volumes.find((v) => v['name'] === 'tls')!;
    delete tls['csi'];
    tls['secret'] = { secretName: 'prober-tls' };
    expect(checkProberIdentity(shared)).toEqual([
      'Deployment/prober container prober: TLS_CERT_FILE is in volume tls, which is not a csi.cert-manager.io volume: every prober pod would present the same certificate, not one naming its own id',
    ]);
    const fixedId = clone(base);
    const container = (find(fixedId, 'Deployment', 'prober') as unknown as ProberPod).spec.template.spec.containers[0]!;
    container.env = container.env.map((e) => (e.name === 'INSTANCE_ID' ? { name: 'INSTANCE_ID', value: 'prober' } : e));
    const csi = ((find(fixedId, 'Deployment', 'prober') as unknown as ProberPod).spec.template.spec.volumes.find((v) => v['name'] === 'tls')!['csi'] as { volumeAttributes: Record<string, string> }).volumeAttributes;
    csi['csi.cert-manager.io/common-name'] = 'prober';
    delete csi['csi.cert-manager.io/fs-group'];
    expect(checkProberIdentity(fixedId)).toEqual([
      'Deployment/prober container prober: INSTANCE_ID (the prober id) does not come from the pod name (valueFrom.fieldRef metadata.name), so it cannot match a per-pod certificate',
      'Deployment/prober container prober: the certificate\'s common name is prober, not ${POD_NAME} (the prober id)',
      "Deployment/prober container prober: the certificate files are written for group root, not the pod's group 65532: the prober could not read its key",
    ]);
  });

  it('an object that breaks its schema', async () => {
    const objects = clone(base);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'resolver') as unknown as { spec: { minReplicas: unknown } };
    hpa.spec.minReplicas = 'three';
    expect(await schemaProblems(find(objects, 'HorizontalPodAutoscaler', 'resolver')!)).toEqual([expect.stringMatching(/minReplicas must be integer/)]);
  });
});

describe('systemd units', () => {
  it("run every service with its own Node options (its package.json's cdnSched.nodeOptions)", () => {
    const dir = join(repoRoot, 'deploy', 'systemd');
    const units = readdirSync(dir).filter((f) => f.endsWith('.service'));
    expect(units.length).toBeGreaterThanOrEqual(5);
    const nodeOptions = serviceNodeOptions();
    for (const unit of units) {
      const service = /^cdn-sched-(.+)@\.service$/.exec(unit)![1]!;
      const text = readFileSync(join(dir, unit), 'utf8');
      const execStart = /^ExecStart=(.*)$/m.exec(text)![1]!;
      const environment = /^Environment=NODE_OPTIONS=(.*)$/m.exec(text)?.[1] ?? '';
      // Options given as NODE_OPTIONS or as flags before the script, either way.
      const flags = `${environment} ${execStart.slice(0, execStart.indexOf('--import'))}`;
      for (const option of (nodeOptions.get(service) ?? '').split(' ').filter(Boolean)) expect(flags, unit).toContain(option);
    }
  });
});
