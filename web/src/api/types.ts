// Types of the API's read models, generated from its OpenAPI document at build time
// (`make` dumps functions/api to web/openapi.json, openapi-typescript writes schema.d.ts; neither
// is committed, so a route that changes breaks this build, not a user's page).
import type { components } from "./schema";

type S = components["schemas"];
export type Project = S["Project"];
export type ProjectSummary = S["ProjectSummary"];
export type Model = S["Model"];
export type ModelSummary = S["ModelSummary"];
export type ModelPage = S["ModelPage"];
export type History = S["History"];
export type HistoryEntry = S["HistoryEntry"];
export type UploadStarted = S["UploadStarted"];
export type UploadStatus = S["UploadStatus"];
export type UploadList = S["UploadList"];
export type PartUrl = S["PartUrl"];
export type RunSummary = S["RunSummary"];
export type Config = S["Config"];
export type Template = S["Template"];
export type TemplateList = S["TemplateList"];
export type Blame = S["Blame"];
export type Me = S["Me"];
export type FileEntry = S["FileEntry"];
export type Role = Project["members"][string];

/** Answers the document leaves open (``additionalProperties``): what the UI reads of them. */
export type Loose = Record<string, unknown>;

export interface RunStep {
  step: string;
  attempt: number;
  status: string;
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  job: string | null;
  error: { error: string; cause: string } | null;
}

export interface RunDetail {
  run_id: string;
  workflow: string;
  status: string;
  started_at: string | null;
  ended_at: string | null;
  duration_s: number | null;
  current_step: string | null;
  error: string | null;
  cause: string | null;
  steps: RunStep[];
  project_id?: string;
  owner?: { kind: string; id: string } | null; // the training or compile the run works for
}

export interface LogPage {
  lines: string[];
  next: number;
  job?: string | null;
  jobs?: string[];
  finished?: boolean;
  terminal?: boolean;
}
