import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { startCognitoSession } from "./auth/cognito";
import { I18nProvider } from "./i18n";
import { RouterProvider } from "./lib/router";
import "./styles.css";

void startCognitoSession(); // on AWS (/config.json names Cognito): token refresh and sign-out

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <I18nProvider>
      <RouterProvider>
        <App />
      </RouterProvider>
    </I18nProvider>
  </StrictMode>,
);
