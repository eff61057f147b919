import "@patternfly/react-core/dist/styles/base.css";
import "./hostdev.css";

import React from "react";
import { createRoot } from "react-dom/client";

import { App } from "./app.jsx";

document.addEventListener("DOMContentLoaded", () => {
    createRoot(document.getElementById("app")).render(<App />);
});
