// The demo's proof that the edge speaks Sparkplug: the first message on a topic filter, subscribed before the monitor
// starts, its client ended by the caller's clean-up list.
import mqttClient from "mqtt";

export function firstMessage(url: string, filter: string, cleanups: Array<() => Promise<void>>,
  reconnectPeriod = 1000): Promise<{ topic: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const client = mqttClient.connect(url, { reconnectPeriod });
    cleanups.push(async () => void client.end(true));
    client.on("error", reject);
    client.on("connect", () => client.subscribe(filter));
    client.on("message", (topic, payload) => {
      resolve({ topic, bytes: payload.length });
      client.end(true);
    });
  });
}
