import { Request, Response, JSON, bindings, utf8, log } from "@wasm-fn/sdk";

const BINDING = "pushgateway";
const OVERSPEED_KMH: f64 = 120;

// Metrics extracted from one telemetry message: [JSON field, metric name, help].
const FIELDS: string[][] = [
  ["speed_kmh", "vehicle_speed_kmh", "Speed in km/h"],
  ["battery_pct", "vehicle_battery_percent", "Battery charge in percent"],
  ["engine_temp_c", "vehicle_engine_temperature_celsius", "Engine temperature in degrees Celsius"],
  ["odometer_km", "vehicle_odometer_km", "Distance driven in km"],
];

function validId(id: string): bool {
  if (id.length == 0 || id.length > 64) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95;
    if (!ok) return false;
  }
  return true;
}

function gauge(out: string[], name: string, help: string, value: f64): void {
  out.push("# HELP " + name + " " + help);
  out.push("# TYPE " + name + " gauge");
  out.push(name + " " + value.toString());
}

export function handle(req: Request): Response {
  if (!req.isEvent) return Response.error(405, "mqtt-metrics takes telemetry events from MQTT");
  const parsed = req.json();
  const msg: JSON.Obj | null = parsed == null ? null : parsed!.asObj();
  if (msg == null) return Response.drop("telemetry is not a JSON object");
  const vehicle = msg.getStringOr("vehicle", "");
  if (!validId(vehicle)) return Response.drop("telemetry without a valid vehicle id");
  const lines = new Array<string>();
  for (let i = 0; i < FIELDS.length; i++) {
    const f = FIELDS[i];
    const v = msg.get(f[0]);
    if (v.kind == JSON.NUM) gauge(lines, f[1], f[2], v.asNumber());
  }
  const speed = msg.get("speed_kmh");
  if (speed.kind == JSON.NUM) gauge(lines, "vehicle_overspeed", "1 when the last reported speed was over " + OVERSPEED_KMH.toString() + " km/h", speed.asNumber() > OVERSPEED_KMH ? 1 : 0);
  if (lines.length == 0) return Response.drop("telemetry without metrics");
  const text = lines.join("\n") + "\n";
  // One Pushgateway group per vehicle, so one car's push does not replace another's.
  const meta = new Map<string, string>();
  meta.set("path", "/metrics/job/vehicles/vehicle/" + vehicle);
  meta.set("Content-Type", "text/plain; version=0.0.4");
  const r = bindings.invoke(BINDING, "post", utf8(text), meta);
  if (!r.ok) {
    log.warn("push for " + vehicle + " failed, will retry: " + r.toString());
    return Response.retry(r.toString());
  }
  return new Response(200);
}
