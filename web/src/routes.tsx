// Every page, by client path (under /ui). A module adds its pages here and, if it has a top-level
// page, a nav entry; studies, releases and pipelines slot in the same way.
import { lazy, Suspense, type ComponentType } from "react";
import { Loading } from "./components/status";
import type { Key } from "./i18n";
import { ConfigDetail } from "./pages/configs/ConfigDetail";
import { ConfigList } from "./pages/configs/ConfigList";
import { DatasetDetail } from "./pages/datasets/DatasetDetail";
import { DatasetList } from "./pages/datasets/DatasetList";
import { Library } from "./pages/library/Library";
import { ModelDetail } from "./pages/library/ModelDetail";
import { ProjectDetail } from "./pages/projects/ProjectDetail";
import { ProjectList } from "./pages/projects/ProjectList";
import { RunDetail } from "./pages/runs/RunDetail";
import { RunList } from "./pages/runs/RunList";
import { Leaderboard } from "./pages/trainings/Leaderboard";
import { TrainingDetail } from "./pages/trainings/TrainingDetail";
import { TrainingList } from "./pages/trainings/TrainingList";

export interface Route {
  path: string;
  page: ComponentType<{ params: Record<string, string> }>;
  nav?: Key; // shown in the main navigation
}

type Page = ComponentType<{ params: Record<string, string> }>;

/** A page in its own chunk (the editor and release pages), loaded when first opened. */
function lazyPage(load: () => Promise<Page>): Page {
  const L = lazy(() => load().then((p) => ({ default: p })));
  return (props) => (
    <Suspense fallback={<Loading />}>
      <L {...props} />
    </Suspense>
  );
}
const PipelineList = lazyPage(() => import("./pages/pipelines/PipelineList").then((m) => m.PipelineList));
const PipelineNew = lazyPage(() => import("./pages/pipelines/PipelineNew").then((m) => m.PipelineNew));
const PipelineDetail = lazyPage(() => import("./pages/pipelines/PipelineDetail").then((m) => m.PipelineDetail));
const ReleaseCenter = lazyPage(() => import("./pages/releases/ReleaseCenter").then((m) => m.ReleaseCenter));
const ModelVersions = lazyPage(() => import("./pages/releases/ModelVersions").then((m) => m.ModelVersions));
const DeploymentDetail = lazyPage(() => import("./pages/releases/DeploymentDetail").then((m) => m.DeploymentDetail));
const StudyList = lazyPage(() => import("./pages/studies/StudyList").then((m) => m.StudyList));
const StudyDetail = lazyPage(() => import("./pages/studies/StudyDetail").then((m) => m.StudyDetail));
const ArchEditor = lazyPage(() => import("./pages/arch/ArchEditor").then((m) => m.ArchEditor));

export const ROUTES: Route[] = [
  { path: "/projects", page: ProjectList, nav: "nav.projects" },
  { path: "/projects/:projectId", page: ProjectDetail },
  { path: "/library", page: Library, nav: "nav.library" },
  { path: "/models/:modelId", page: ModelDetail },
  { path: "/datasets", page: DatasetList, nav: "nav.datasets" },
  { path: "/datasets/:datasetId", page: DatasetDetail },
  { path: "/configs", page: ConfigList, nav: "nav.configs" },
  { path: "/configs/:configId", page: ConfigDetail },
  { path: "/trainings", page: TrainingList, nav: "nav.trainings" },
  { path: "/trainings/:trainingId", page: TrainingDetail },
  { path: "/leaderboard", page: Leaderboard },
  { path: "/runs", page: RunList, nav: "nav.runs" },
  { path: "/runs/:runId", page: RunDetail },
  { path: "/pipelines", page: PipelineList, nav: "nav.pipelines" },
  { path: "/pipelines/new", page: PipelineNew },
  { path: "/pipelines/:pipelineId", page: PipelineDetail },
  { path: "/releases", page: ReleaseCenter, nav: "nav.releases" },
  { path: "/releases/models/:modelId", page: ModelVersions },
  { path: "/deployments/:deploymentId", page: DeploymentDetail },
  { path: "/studies", page: StudyList, nav: "nav.studies" },
  { path: "/studies/:studyId", page: StudyDetail },
  { path: "/configs/:configId/arch", page: ArchEditor },
];
