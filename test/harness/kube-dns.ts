/**
 * The cluster DNS of the test node: answers A queries for `<service>.<namespace>.svc.<domain>` with
 * the ready addresses of that Service's EndpointSlices, read from the API server (cached 1 s), and
 * NXDOMAIN for anything else (no forwarding: nothing leaves the machine). It stands in for CoreDNS
 * plus kube-proxy, which the node does not run: a pod that dials a Service by name reaches its
 * endpoints directly, as with a headless Service. Used for what runs beside the node as host
 * processes (Dapr's control plane, Redis), published as selector-less Services with EndpointSlices.
 *
 * @example
 *   const dns = await startClusterDns(kube, "10.88.0.1"); // kubelet: clusterDNS [10.88.0.1]
 *   ... await dns.stop();
 */
import dgram from "node:dgram";
import * as packet from "dns-packet";
import type { KubeApi } from "./kube.js";

export const CLUSTER_DOMAIN = "cluster.local";

export interface ClusterDns {
  address: string;
  /** Names asked for, and what each got ("NXDOMAIN" or the addresses), for a failing test's report. */
  log(): string[];
  stop(): Promise<void>;
}

export async function startClusterDns(kube: KubeApi, address: string): Promise<ClusterDns> {
  const cache = new Map<string, { at: number; ips: string[] }>();
  const seen: string[] = [];
  const lookup = async (name: string): Promise<string[]> => {
    const m = new RegExp(`^([a-z0-9-]+)\\.([a-z0-9-]+)\\.svc\\.${CLUSTER_DOMAIN.replace(".", "\\.")}\\.?$`).exec(name.toLowerCase());
    if (!m) return [];
    const key = `${m[2]}/${m[1]}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < 1000) return hit.ips;
    const r = await kube.request("GET", `/apis/discovery.k8s.io/v1/namespaces/${m[2]}/endpointslices?labelSelector=${encodeURIComponent(`kubernetes.io/service-name=${m[1]}`)}`);
    const ips: string[] = [];
    for (const s of r.status === 200 ? r.body.items ?? [] : []) {
      if (s.addressType !== "IPv4") continue;
      for (const ep of s.endpoints ?? []) if (ep.conditions?.ready !== false) ips.push(...ep.addresses);
    }
    cache.set(key, { at: Date.now(), ips });
    return ips;
  };
  const sock = dgram.createSocket("udp4");
  sock.on("message", (msg, from) => {
    void (async () => {
      let q: packet.Packet;
      try { q = packet.decode(msg); } catch { return; }
      const question = q.questions?.[0];
      if (!question) return;
      const ips = question.type === "A" || question.type === "AAAA" ? await lookup(question.name).catch(() => []) : [];
      // A name that resolves has no AAAA records: NOERROR with no answers, so resolvers take the A.
      const known = ips.length > 0 || (question.type !== "A" && (await lookup(question.name).catch(() => [])).length > 0);
      seen.push(`${question.type} ${question.name}: ${ips.length ? ips.join(",") : known ? "no records" : "NXDOMAIN"}`);
      if (seen.length > 500) seen.splice(0, 100);
      const answer = packet.encode({
        type: "response", id: q.id, flags: packet.AUTHORITATIVE_ANSWER | (q.flags ?? 0) & packet.RECURSION_DESIRED | (known ? 0 : 3) /* rcode NXDOMAIN */,
        questions: q.questions,
        answers: question.type === "A" ? ips.map((ip) => ({ type: "A" as const, name: question.name, ttl: 1, class: "IN" as const, data: ip })) : [],
      });
      sock.send(answer, from.port, from.address);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    sock.once("error", (e) => reject(new Error(`the cluster DNS could not listen on ${address}:53: ${e.message}`)));
    sock.bind(53, address, () => resolve());
  });
  return {
    address,
    log: () => [...seen],
    stop: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
