// A Mosquitto broker and a Sparkplug subscriber on it, shared by every test of the calling file: started now (`await`
// it at the file's top level), closed and stopped at the file's end.
import { startMosquitto, type Mosquitto, type MosquittoOptions } from "../../harness/mosquitto.js";
import { atFileEnd } from "../api-server.js";
import { SparkplugSubscriber } from "./sparkplug-subscriber.js";

export async function brokerForFile(options: MosquittoOptions = {}): Promise<{ broker: Mosquitto; sub: SparkplugSubscriber }> {
  const broker = await startMosquitto(options);
  atFileEnd(() => broker.dispose());
  const sub = await SparkplugSubscriber.connect(broker.url);
  atFileEnd(() => sub.close());
  return { broker, sub };
}
