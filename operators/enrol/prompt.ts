// Asking a person at the terminal: reads /dev/tty directly, so the questions work even when stdin and stdout are
// pipes (as under `curl … | sh -` and `kubectl attach`). Secrets are read with echo off.
import { closeSync, openSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { ReadStream, WriteStream } from "node:tty";

export interface KeyState {
  value: string;
  done: boolean;
  cancelled: boolean;
}

/** Applies keystrokes typed in raw mode to the hidden input: Enter ends, Backspace deletes, Ctrl-C/Ctrl-D cancel. */
export function applyKeys(state: KeyState, keys: string): KeyState {
  let { value } = state;
  for (const ch of keys) {
    if (ch === "\r" || ch === "\n") return { value, done: true, cancelled: false };
    if (ch === "\u0003" || (ch === "\u0004" && value === "")) return { value: "", done: true, cancelled: true };
    if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
    else if (ch === "\u0015") value = ""; // Ctrl-U clears the line
    else if (ch >= " ") value += ch;
  }
  return { value, done: false, cancelled: false };
}

function openTty(): { input: ReadStream; output: WriteStream; close: () => void } {
  let inFd: number;
  let outFd: number;
  try {
    inFd = openSync("/dev/tty", "r");
    outFd = openSync("/dev/tty", "w");
  } catch {
    throw new Error("no terminal to ask on: give the admin principal with --admin-principal and the password with GRAFT_ADMIN_PASSWORD or --admin-password-stdin");
  }
  const input = new ReadStream(inFd);
  const output = new WriteStream(outFd);
  return {
    input, output,
    close: () => {
      input.destroy();
      output.destroy();
      for (const fd of [inFd, outFd]) { try { closeSync(fd); } catch { /* already closed by the stream */ } }
    },
  };
}

/** Asks a question on the terminal and returns the answer (echoed as typed). */
export async function askTty(question: string): Promise<string> {
  const tty = openTty();
  const rl = createInterface({ input: tty.input, output: tty.output, terminal: true });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
    tty.close();
  }
}

/** Asks for a secret on the terminal without echoing it. */
export async function askTtySecret(question: string): Promise<string> {
  const tty = openTty();
  try {
    // Echo goes off before the question shows, so an answer typed (or pasted) at once is never echoed.
    tty.input.setRawMode(true);
    tty.output.write(question);
    const state = await new Promise<KeyState>((resolve) => {
      let s: KeyState = { value: "", done: false, cancelled: false };
      tty.input.setEncoding("utf8");
      tty.input.on("data", (keys: string) => {
        s = applyKeys(s, keys);
        if (s.done) resolve(s);
      });
    });
    tty.output.write("\n");
    if (state.cancelled) throw new Error("cancelled at the password prompt");
    return state.value;
  } finally {
    tty.input.setRawMode(false);
    tty.close();
  }
}

/** The first line of a stream (for `--admin-password-stdin`), without its line ending. */
export async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input: stream, terminal: false });
  try {
    for await (const line of rl) return line.replace(/\r$/, "");
    return "";
  } finally {
    rl.close();
  }
}
