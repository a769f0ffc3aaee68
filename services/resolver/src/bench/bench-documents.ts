/**
 * Writes a benchmark fleet to etcd as the documents SREs write (`/cdn/nodes/<id>`,
 * `/cdn/domains/<fqdn>`, in the document form of libs/documents), so that real config-watcher,
 * prober, weight-calculator and resolver processes see it exactly as they would a production one.
 */
import { documentOfDomain, documentOfNode, domainKey, nodeKey, DEFAULT_PREFIX } from '@cdn-sched/documents';
import type { EtcdClient } from '@cdn-sched/etcd';
import type { Domain, Node } from '@cdn-sched/proto';

/** Puts sent at once: a 10 k-node fleet lands in seconds without queueing thousands of calls. */
const PUT_CONCURRENCY = 64;

/** Puts every node and domain document; resolves when etcd has acknowledged them all. */
export async function putFleetDocuments(client: EtcdClient, fleet: { nodes: readonly Node[]; domains: readonly Domain[] }): Promise<void> {
  const puts: [string, string][] = [
    ...fleet.nodes.map((n): [string, string] => [nodeKey(DEFAULT_PREFIX, n.id), JSON.stringify(documentOfNode(n))]),
    ...fleet.domains.map((d): [string, string] => [domainKey(DEFAULT_PREFIX, d.domain), JSON.stringify(documentOfDomain(d))]),
  ];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < puts.length) {
      const [key, value] = puts[next++]!;
      await client.put(key, value);
    }
  };
  await Promise.all(Array.from({ length: PUT_CONCURRENCY }, worker));
}
