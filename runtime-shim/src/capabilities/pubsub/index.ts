import { Op } from "@wasm-fn/abi";
import type { Backend } from "../backend.js";
import { answer, Args } from "../errors.js";
import { requirePublish } from "../grants.js";
import type { Capability } from "../index.js";

/**
 * Publish to a pub/sub topic. Subscribers receive a CloudEvent whose `datacontenttype` is the
 * content type given here (default application/json); metadata `rawPayload: "true"` skips the
 * CloudEvent envelope on the wire, as in Dapr.
 *
 * @example new CapabilityRouter([pubsubCapability(backend)])
 */
export function pubsubCapability(backend: Backend): Capability {
  return {
    name: "pubsub",
    ops: [Op.PUBLISH],
    handle(_op, bytes, ctx) {
      const a = new Args(bytes, "pubsub.publish").need(3, "pubsub, topic, data, contentType, metadata");
      const pubsub = a.name(0, "pubsub name"), topic = a.name(1, "topic");
      requirePublish(ctx, pubsub, topic);
      const data = a.bytes(2), contentType = a.str(3) || "application/json", metadata = a.map(4);
      return answer(() => backend.publish(pubsub, topic, data, contentType, metadata), () => []);
    },
  };
}
