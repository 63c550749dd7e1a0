// A Mosquitto broker that enforces ACS's MQTT permissions for one test file: its acl_file is the ACS stand-in's
// rendering of the stand-in's grants (e2e/acs-standin/mqtt-acl.ts), kept current as they change (SIGHUP), and a
// Sparkplug subscriber on it logged in as the stand-in's root principal, which may read everything. Started now
// (`await` it at the file's top level), stopped at the file's end.
import { join } from "node:path";
import type { MqttClient } from "mqtt";
import { keepMqttAcl, type MqttAclFile } from "../../acs-standin/mqtt-acl.js";
import type { AcsStandin } from "../../acs-standin/standin.js";
import { startMosquitto, type Mosquitto, type MosquittoOptions } from "../../harness/mosquitto.js";
import { atFileEnd, tempDirForFile } from "../api-server.js";
import { SparkplugSubscriber } from "./sparkplug-subscriber.js";

export interface AcsBroker {
  broker: Mosquitto;
  acl: MqttAclFile;
  /** Subscribed to all of spBv1.0/# as the stand-in's root principal. */
  sub: SparkplugSubscriber;
}

/** The broker, its ACL kept from the stand-in, and the root subscriber; stop() ends all three. */
export async function startAcsBroker(standin: AcsStandin, dir: string, options: Omit<MosquittoOptions, "aclFile"> = {}): Promise<AcsBroker & { stop(): Promise<void> }> {
  const path = join(dir, "acl");
  // The file exists before the broker starts (it reads it then); rewrites after that are reloaded.
  const running: { broker?: Mosquitto } = {};
  const acl = keepMqttAcl(standin, path, async () => await running.broker?.reload());
  let broker: Mosquitto | undefined;
  try {
    broker = await startMosquitto({ ...options, aclFile: path });
    running.broker = broker;
    const { upn, password } = standin.adminUser;
    const sub = await SparkplugSubscriber.connect(broker.url, { extra: { username: upn, password } });
    const started = broker;
    return {
      broker, acl, sub,
      async stop() {
        await sub.close();
        acl.stop();
        await started.dispose();
      },
    };
  } catch (err) {
    acl.stop();
    await broker?.dispose();
    throw err;
  }
}

/** startAcsBroker for the calling file's tests: started now (`await` it at the top level), stopped at the file's end. */
export async function acsBrokerForFile(standin: AcsStandin, options: Omit<MosquittoOptions, "aclFile"> = {}): Promise<AcsBroker> {
  const started = await startAcsBroker(standin, tempDirForFile("graft-mqtt-acl-"), options);
  atFileEnd(() => started.stop());
  return started;
}

/** MQTT 5's "not authorised" reason code (PUBACK, SUBACK, CONNACK, DISCONNECT). */
export const NOT_AUTHORISED = 0x87;

/** The PUBACK reason code a QoS 1 publish gets (0: accepted; NOT_AUTHORISED where the ACL refuses). */
export async function pubackReason(client: MqttClient, topic: string, payload = "x"): Promise<number> {
  try {
    const ack = await client.publishAsync(topic, payload, { qos: 1 });
    return (ack as { reasonCode?: number } | undefined)?.reasonCode ?? 0;
  } catch (err) {
    const code = (err as { code?: number }).code;
    if (typeof code === "number") return code;
    throw err;
  }
}
