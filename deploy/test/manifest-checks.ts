import type { K8sObject } from './render.js';

/* Checks of the rendered manifests that a schema cannot express. Each returns the problems found,
   one sentence each, naming the object; an empty list means the overlay passes. */

interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; runAsNonRoot?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
}
interface Volume {
  name: string;
  secret?: { secretName: string; items?: { key: string }[] };
  configMap?: { name: string; items?: { key: string }[] };
  projected?: { sources: { secret?: { name: string }; configMap?: { name: string } }[] };
  csi?: { driver: string; volumeAttributes?: Record<string, string> };
}
interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; fsGroup?: number; seccompProfile?: { type: string } };
}
interface Workload {
  name: string;
  replicas: number | undefined;
  labels: Record<string, string>;
  pod: PodSpec;
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: unknown[];
}
interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: { protocol?: string; port?: number | string }[];
}

const spec = <T>(o: K8sObject): T => (o as unknown as { spec: T }).spec;
const ofKind = (objects: readonly K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);

/** Deployments with their pod template. */
export function workloads(objects: readonly K8sObject[]): Workload[] {
  return ofKind(objects, 'Deployment').map((d) => {
    const s = spec<{ replicas?: number; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } }>(d);
    return { name: d.metadata.name, replicas: s.replicas, labels: s.template.metadata.labels ?? {}, pod: s.template.spec };
  });
}

/** Whether `selector` (matchLabels only; expressions are not used here and count as no match) selects `labels`. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector || selector.matchExpressions?.length) return false;
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

const portsOf = (w: Workload): ContainerPort[] => w.pod.containers.flatMap((c) => c.ports ?? []);
const portMatches = (p: ContainerPort, port: number | string, protocol = 'TCP'): boolean =>
  (p.protocol ?? 'TCP') === protocol && (typeof port === 'number' ? p.containerPort === port : p.name === port);

/** Every Deployment has a PodDisruptionBudget selecting its pods, and every container a startup, readiness and liveness probe on a port it listens on. */
export function checkPdbsAndProbes(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const pdbs = ofKind(objects, 'PodDisruptionBudget');
  for (const w of workloads(objects)) {
    if (!pdbs.some((p) => selects(spec<{ selector: LabelSelector }>(p).selector, w.labels))) problems.push(`Deployment/${w.name}: no PodDisruptionBudget selects its pods`);
    for (const c of w.pod.containers) {
      for (const kind of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
        const probe = c[kind];
        if (!probe) {
          problems.push(`Deployment/${w.name} container ${c.name}: no ${kind}`);
          continue;
        }
        const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
        if (port === undefined) problems.push(`Deployment/${w.name} container ${c.name}: ${kind} has no grpc, httpGet or tcpSocket port`);
        else if (!(c.ports ?? []).some((p) => portMatches(p, port))) problems.push(`Deployment/${w.name} container ${c.name}: ${kind} port ${port} is not a container port`);
      }
    }
  }
  return problems;
}

/**
 * The ports a container declares are the ports the service listens on: the port named `grpc` is
 * its GRPC_PORT, `metrics` its METRICS_PORT, `dns-*` its DNS_PORT; and those are the defaults the
 * service's own settings declare (`defaults`: service → setting → port), so the manifests, the
 * systemd examples and `--help` agree.
 */
export function checkListenPorts(objects: readonly K8sObject[], defaults: ReadonlyMap<string, ReadonlyMap<string, number>>): string[] {
  const problems: string[] = [];
  const settingOf = (portName: string): string | undefined =>
    portName === 'grpc' ? 'GRPC_PORT' : portName === 'metrics' ? 'METRICS_PORT' : portName.startsWith('dns-') ? 'DNS_PORT' : undefined;
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const env = new Map((c.env ?? []).map((e) => [e.name, e.value]));
      for (const p of c.ports ?? []) {
        const setting = p.name ? settingOf(p.name) : undefined;
        if (!setting) {
          problems.push(`Deployment/${w.name} container ${c.name}: port ${p.containerPort} (${p.name ?? 'unnamed'}) is not one a service setting opens`);
          continue;
        }
        const configured = Number(env.get(setting) ?? NaN);
        if (configured !== p.containerPort) problems.push(`Deployment/${w.name} container ${c.name}: port ${p.name} is ${p.containerPort} but ${setting} is ${env.get(setting) ?? 'unset'}`);
        const fallback = defaults.get(c.name)?.get(setting);
        if (fallback !== undefined && fallback !== p.containerPort) problems.push(`Deployment/${w.name} container ${c.name}: ${setting} ${p.containerPort} differs from the service's default ${fallback}`);
      }
    }
  }
  return problems;
}

/**
 * Every port a NetworkPolicy lets in is a port the selected pods listen on, and every port it
 * lets out toward pods of this namespace is one those pods listen on. Peers outside the
 * namespace (etcd, cluster DNS, the internet) are not ours to check.
 */
export function checkNetworkPolicyPorts(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const np of ofKind(objects, 'NetworkPolicy')) {
    const s = spec<{ podSelector: LabelSelector; ingress?: PolicyRule[]; egress?: PolicyRule[] }>(np);
    const selected = all.filter((w) => selects(s.podSelector, w.labels));
    for (const rule of s.ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (port.port === undefined) continue;
        for (const w of selected) {
          if (!portsOf(w).some((p) => portMatches(p, port.port!, port.protocol))) problems.push(`NetworkPolicy/${np.metadata.name}: allows ${port.protocol ?? 'TCP'} ${port.port} in, but Deployment/${w.name} does not listen on it`);
        }
      }
      if (selected.length === 0) problems.push(`NetworkPolicy/${np.metadata.name}: selects no pods`);
    }
    for (const rule of s.egress ?? []) {
      const targets = (rule.to ?? []).filter((peer) => peer.podSelector && !peer.namespaceSelector && !peer.ipBlock);
      for (const peer of targets) {
        const reached = all.filter((w) => selects(peer.podSelector, w.labels));
        if (reached.length === 0) problems.push(`NetworkPolicy/${np.metadata.name}: egress to ${JSON.stringify(peer.podSelector)} reaches no pods`);
        for (const port of rule.ports ?? []) {
          for (const w of reached) {
            if (port.port !== undefined && !portsOf(w).some((p) => portMatches(p, port.port!, port.protocol))) problems.push(`NetworkPolicy/${np.metadata.name}: allows ${port.protocol ?? 'TCP'} ${port.port} out to Deployment/${w.name}, which does not listen on it`);
          }
        }
      }
    }
  }
  if (!ofKind(objects, 'NetworkPolicy').some((np) => {
    const s = spec<{ podSelector: LabelSelector; policyTypes?: string[]; ingress?: unknown[]; egress?: unknown[] }>(np);
    return Object.keys(s.podSelector.matchLabels ?? {}).length === 0 && s.policyTypes?.includes('Ingress') && s.policyTypes.includes('Egress') && !s.ingress?.length && !s.egress?.length;
  })) problems.push('no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)');
  return problems;
}

/** Every image is pinned: a version tag (not "latest") or a digest. */
export function checkImagesPinned(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const digest = /@sha256:[0-9a-f]{64}$/.test(c.image);
      const tag = /^[^@]+:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(c.image)?.[1];
      if (!digest && (!tag || tag === 'latest' || !/\d/.test(tag))) problems.push(`Deployment/${w.name} container ${c.name}: image ${c.image} is not pinned to a version tag or digest`);
    }
  }
  return problems;
}

/**
 * Every Secret and ConfigMap a pod references exists in the overlay (a Secret may also be the
 * `secretName` of a cert-manager Certificate, which creates it), with the keys it names.
 */
export function checkReferencedConfig(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const keysOf = (o: K8sObject): Set<string> => new Set([...Object.keys((o as { data?: object }).data ?? {}), ...Object.keys((o as { stringData?: object }).stringData ?? {})]);
  const secrets = new Map<string, Set<string> | 'certificate'>();
  for (const s of ofKind(objects, 'Secret')) secrets.set(s.metadata.name, keysOf(s));
  for (const c of ofKind(objects, 'Certificate')) secrets.set(spec<{ secretName: string }>(c).secretName, 'certificate');
  const configMaps = new Map(ofKind(objects, 'ConfigMap').map((m) => [m.metadata.name, keysOf(m)]));
  const CERT_KEYS = new Set(['tls.crt', 'tls.key', 'ca.crt']);
  const need = (where: string, kind: 'Secret' | 'ConfigMap', name: string, keys: readonly string[]): void => {
    const found = kind === 'Secret' ? secrets.get(name) : configMaps.get(name);
    if (!found) {
      problems.push(`${where}: ${kind} ${name} is not in the overlay`);
      return;
    }
    const have = found === 'certificate' ? CERT_KEYS : found;
    for (const k of keys) if (!have.has(k)) problems.push(`${where}: ${kind} ${name} has no key ${k}`);
  };
  for (const w of workloads(objects)) {
    for (const v of w.pod.volumes ?? []) {
      const where = `Deployment/${w.name} volume ${v.name}`;
      if (v.secret) need(where, 'Secret', v.secret.secretName, (v.secret.items ?? []).map((i) => i.key));
      if (v.configMap) need(where, 'ConfigMap', v.configMap.name, (v.configMap.items ?? []).map((i) => i.key));
      for (const src of v.projected?.sources ?? []) {
        if (src.secret) need(where, 'Secret', src.secret.name, []);
        if (src.configMap) need(where, 'ConfigMap', src.configMap.name, []);
      }
    }
    for (const c of w.pod.containers) {
      const where = `Deployment/${w.name} container ${c.name}`;
      for (const e of c.env ?? []) {
        if (e.valueFrom?.secretKeyRef) need(`${where} env ${e.name}`, 'Secret', e.valueFrom.secretKeyRef.name, [e.valueFrom.secretKeyRef.key]);
        if (e.valueFrom?.configMapKeyRef) need(`${where} env ${e.name}`, 'ConfigMap', e.valueFrom.configMapKeyRef.name, [e.valueFrom.configMapKeyRef.key]);
      }
      for (const f of c.envFrom ?? []) {
        if (f.secretRef) need(where, 'Secret', f.secretRef.name, []);
        if (f.configMapRef) need(where, 'ConfigMap', f.configMapRef.name, []);
      }
      // A file setting (…_FILE) must point into a mounted volume.
      for (const e of c.env ?? []) {
        if (!e.name.endsWith('_FILE') || !e.value) continue;
        const mounts = ((c as { volumeMounts?: { mountPath: string }[] }).volumeMounts ?? []).map((m) => m.mountPath);
        if (!mounts.some((m) => e.value!.startsWith(`${m}/`))) problems.push(`${where}: ${e.name}=${e.value} is not under any volume mount`);
      }
    }
  }
  return problems;
}

/** Non-root, read-only root file system, no privilege escalation, every capability dropped, RuntimeDefault seccomp. */
export function checkSecurityContexts(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const pod = w.pod.securityContext ?? {};
    if (pod.runAsNonRoot !== true || !pod.runAsUser) problems.push(`Deployment/${w.name}: pod does not run as a non-root user`);
    if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push(`Deployment/${w.name}: pod seccomp profile is not RuntimeDefault`);
    for (const c of w.pod.containers) {
      const sc = c.securityContext ?? {};
      if (sc.allowPrivilegeEscalation !== false) problems.push(`Deployment/${w.name} container ${c.name}: allowPrivilegeEscalation is not false`);
      if (sc.readOnlyRootFilesystem !== true) problems.push(`Deployment/${w.name} container ${c.name}: root file system is not read-only`);
      if (!sc.capabilities?.drop?.includes('ALL') || sc.capabilities.add?.length) problems.push(`Deployment/${w.name} container ${c.name}: capabilities are not all dropped`);
    }
  }
  return problems;
}

/**
 * Each Deployment with a gRPC port has a headless Service over it (client-side balancing), and a
 * ServiceMonitor scrapes a Service port named "metrics" that selects its pods.
 */
export function checkServicesAndMonitors(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const services = ofKind(objects, 'Service').map((s) => ({ o: s, s: spec<{ clusterIP?: string; selector?: Record<string, string>; ports: { name?: string; targetPort?: string | number }[] }>(s) }));
  const monitors = ofKind(objects, 'ServiceMonitor').map((m) => spec<{ selector: LabelSelector; endpoints: { port?: string }[] }>(m));
  for (const w of workloads(objects)) {
    const over = services.filter((x) => x.s.selector && Object.entries(x.s.selector).every(([k, v]) => w.labels[k] === v));
    for (const x of over) {
      for (const p of x.s.ports) {
        if (p.targetPort !== undefined && !portsOf(w).some((cp) => (typeof p.targetPort === 'number' ? cp.containerPort === p.targetPort : cp.name === p.targetPort))) {
          problems.push(`Service/${x.o.metadata.name}: targetPort ${p.targetPort} is not a container port of Deployment/${w.name}`);
        }
      }
    }
    if (portsOf(w).some((p) => p.name === 'grpc') && !over.some((x) => x.s.clusterIP === 'None' && x.s.ports.some((p) => p.targetPort === 'grpc'))) {
      problems.push(`Deployment/${w.name}: no headless Service over its gRPC port`);
    }
    const scraped = over.some((x) => x.s.ports.some((p) => p.name === 'metrics') && monitors.some((m) => selects(m.selector, x.o.metadata.labels ?? {}) && m.endpoints.some((e) => e.port === 'metrics')));
    if (!scraped) problems.push(`Deployment/${w.name}: no ServiceMonitor scrapes its metrics port`);
  }
  return problems;
}

/**
 * Every setting whose default points at loopback (`loopback`: service → setting names) is set by
 * the service's Deployment: in a pod, 127.0.0.1 is the pod itself, so a peer address left at its
 * default dials nothing and a listen address left at it is unreachable from other pods.
 */
export function checkLoopbackDefaultsOverridden(objects: readonly K8sObject[], loopback: ReadonlyMap<string, readonly string[]>): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const set = new Set((c.env ?? []).map((e) => e.name));
      for (const setting of loopback.get(c.name) ?? []) {
        if (!set.has(setting)) problems.push(`Deployment/${w.name} container ${c.name}: ${setting} is not set, and its default is a loopback address`);
      }
    }
  }
  return problems;
}

/**
 * With mutual TLS the weight-calculator accepts a prober's reports only under a certificate whose CN
 * (or a DNS SAN) is that prober's id, its INSTANCE_ID. One Certificate shared by every prober pod
 * cannot name each of them, so each prober pod needs its own, made from the same pod name as its id:
 * INSTANCE_ID from the downward API (`metadata.name`), and the volume holding TLS_CERT_FILE a
 * cert-manager csi-driver volume whose common name is `${POD_NAME}`, signed by an Issuer of the
 * overlay (or a ClusterIssuer), usable for client and server auth, written for the pod's group, with
 * the file names the TLS_* settings point at. Workloads running the prober are found by their args.
 */
export function checkProberIdentity(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const issuers = new Set(ofKind(objects, 'Issuer').map((i) => i.metadata.name));
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      if (!((c as { args?: string[] }).args ?? []).some((a) => a.includes('services/prober/'))) continue;
      const where = `Deployment/${w.name} container ${c.name}`;
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      const certFile = env.get('TLS_CERT_FILE')?.value;
      if (!certFile) continue;
      if (env.get('INSTANCE_ID')?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') {
        problems.push(`${where}: INSTANCE_ID (the prober id) does not come from the pod name (valueFrom.fieldRef metadata.name), so it cannot match a per-pod certificate`);
      }
      const mounts = (c as { volumeMounts?: { name: string; mountPath: string }[] }).volumeMounts ?? [];
      const mount = mounts.find((m) => certFile.startsWith(`${m.mountPath}/`));
      const volume = w.pod.volumes?.find((v) => v.name === mount?.name);
      if (!mount || !volume) continue; // checkReferencedConfig reports a file outside every mount
      if (volume.csi?.driver !== 'csi.cert-manager.io') {
        problems.push(`${where}: TLS_CERT_FILE is in volume ${volume.name}, which is not a csi.cert-manager.io volume: every prober pod would present the same certificate, not one naming its own id`);
        continue;
      }
      const a = volume.csi.volumeAttributes ?? {};
      const attr = (key: string): string | undefined => a[`csi.cert-manager.io/${key}`];
      if (attr('common-name') !== '${POD_NAME}') problems.push(`${where}: the certificate's common name is ${attr('common-name') ?? 'unset'}, not \${POD_NAME} (the prober id)`);
      const issuer = attr('issuer-name');
      const kind = attr('issuer-kind') ?? 'Issuer';
      if (!issuer || (kind === 'Issuer' && !issuers.has(issuer))) problems.push(`${where}: the certificate's Issuer ${issuer ?? '(unset)'} is not in the overlay`);
      const usages = (attr('key-usages') ?? 'digital signature,key encipherment').split(',').map((u) => u.trim());
      for (const u of ['client auth', 'server auth']) if (!usages.includes(u)) problems.push(`${where}: the certificate lacks the key usage "${u}"`);
      const group = w.pod.securityContext?.fsGroup ?? w.pod.securityContext?.runAsGroup;
      if (group !== undefined && attr('fs-group') !== String(group)) problems.push(`${where}: the certificate files are written for group ${attr('fs-group') ?? 'root'}, not the pod's group ${group}: the prober could not read its key`);
      const files: [string, string, string][] = [['TLS_CERT_FILE', 'certificate-file', 'tls.crt'], ['TLS_KEY_FILE', 'privatekey-file', 'tls.key'], ['TLS_CA_FILE', 'ca-file', 'ca.crt']];
      for (const [setting, key, fallback] of files) {
        const want = `${mount.mountPath}/${attr(key) ?? fallback}`;
        if (env.get(setting)?.value !== want) problems.push(`${where}: ${setting} is ${env.get(setting)?.value ?? 'unset'}, but the csi volume writes ${want}`);
      }
    }
  }
  return problems;
}

/**
 * Every container runs with its service's Node options (`nodeOptions`: service → the
 * `cdnSched.nodeOptions` of services/<name>/package.json, which the local processes get too) as
 * its NODE_OPTIONS, and a service without any sets none.
 */
export function checkNodeOptions(objects: readonly K8sObject[], nodeOptions: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const set = (c.env ?? []).find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const wanted = nodeOptions.get(c.name) ?? '';
      if (set !== wanted) problems.push(`Deployment/${w.name} container ${c.name}: NODE_OPTIONS is '${set}' but services/${c.name}/package.json says '${wanted}'`);
    }
  }
  return problems;
}
