// Resumable multipart upload to the model library, the same protocol as tlm/client.py:
//  1. sha256 of the file and the CRC32 of every part (sent with each part; a part whose bytes
//     differ is refused, completion checks size and sha256 end to end);
//  2. an open upload of the same path and sha256 is found on the server (GET .../uploads) and
//     only its missing parts are sent (part-urls); otherwise a new upload is started;
//  3. parts are PUT to their signed URLs (local server or S3), a few at a time, with progress;
//  4. complete. Stopping (or closing the tab) leaves the upload open: choosing the same file
//     again resumes it.
import { enc, get, post } from "./client";
import type { PartUrl, UploadList, UploadStarted } from "./types";
import { crc32 } from "../lib/crc32";

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 10_000;
const WORKERS = 3;
// XHR refuses these (and logs an error): the browser sets them itself
const FORBIDDEN = new Set(["content-length", "host", "connection", "expect"]);

export const partSizeFor = (size: number) => Math.max(DEFAULT_PART_SIZE, Math.ceil(size / MAX_PARTS));

export interface Progress {
  phase: "hashing" | "uploading" | "completing" | "done";
  sent: number;
  total: number;
  resumed: boolean;
}

export async function sha256Hex(file: Blob): Promise<string> {
  // Web Crypto has no incremental digest: the file is read whole (fine for the checkpoints the
  // UI uploads; the CLI streams files of any size)
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function crcBase64(value: number): string {
  const bytes = [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return btoa(String.fromCharCode(...bytes));
}

async function partCrcs(file: Blob, partSize: number): Promise<string[]> {
  const out: string[] = [];
  for (let start = 0; start < Math.max(1, file.size); start += partSize) {
    out.push(crcBase64(crc32(new Uint8Array(await file.slice(start, start + partSize).arrayBuffer()))));
  }
  return out;
}

function putPart(target: PartUrl, body: Blob, onProgress: (loaded: number) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method || "PUT", target.url);
    for (const [k, v] of Object.entries(target.headers ?? {})) if (!FORBIDDEN.has(k.toLowerCase())) xhr.setRequestHeader(k, String(v));
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new Error(`part ${target.part_number}: HTTP ${xhr.status} ${xhr.responseText.slice(0, 200)}`));
    };
    xhr.onerror = () => reject(new Error(`part ${target.part_number}: network error`));
    xhr.onabort = () => reject(new DOMException("stopped", "AbortError"));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

export async function uploadFile(
  modelId: string,
  file: File,
  opts: { path?: string; partSize?: number; signal: AbortSignal; onProgress: (p: Progress) => void },
): Promise<Record<string, unknown>> {
  const path = opts.path || file.name;
  const total = file.size;
  opts.onProgress({ phase: "hashing", sent: 0, total, resumed: false });
  const sha256 = await sha256Hex(file);
  const open = (await get<UploadList>(`/models/${enc(modelId)}/uploads`)).items.find(
    (u) => u.state === "open" && u.path === path && (u as { sha256?: string }).sha256 === sha256,
  );
  let uploadId: string;
  let partSize: number;
  let targets: PartUrl[];
  let already = 0;
  if (open) {
    uploadId = open.upload_id;
    partSize = open.part_size;
    already = open.uploaded_parts.reduce((n, p) => n + Math.min(partSize, total - (p - 1) * partSize), 0);
    targets = open.missing_parts.length
      ? (await post<{ parts: PartUrl[] }>(`/models/${enc(modelId)}/uploads/${enc(uploadId)}/part-urls`, { parts: open.missing_parts })).parts
      : [];
  } else {
    partSize = opts.partSize ?? partSizeFor(total);
    const started = await post<UploadStarted>(`/models/${enc(modelId)}/uploads`, {
      path,
      size: total,
      sha256,
      part_size: partSize,
      part_crc32: await partCrcs(file, partSize),
    });
    uploadId = started.upload_id;
    partSize = started.part_size;
    targets = started.parts;
  }
  const resumed = Boolean(open);
  const inFlight = new Map<number, number>();
  let done = already;
  const report = () => {
    let sent = done;
    inFlight.forEach((v) => (sent += v));
    opts.onProgress({ phase: "uploading", sent: Math.min(sent, total), total, resumed });
  };
  report();
  const queue = [...targets];
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const start = (t.part_number - 1) * partSize;
      const body = file.slice(start, start + partSize);
      await putPart(
        t,
        body,
        (loaded) => {
          inFlight.set(t!.part_number, loaded);
          report();
        },
        opts.signal,
      );
      inFlight.delete(t.part_number);
      done += body.size;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.min(WORKERS, Math.max(1, queue.length)) }, worker));
  opts.signal.throwIfAborted();
  opts.onProgress({ phase: "completing", sent: total, total, resumed });
  const result = await post<Record<string, unknown>>(`/models/${enc(modelId)}/uploads/${enc(uploadId)}/complete`);
  opts.onProgress({ phase: "done", sent: total, total, resumed });
  return { ...result, resumed };
}
