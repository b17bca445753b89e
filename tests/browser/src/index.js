// The stock neuroglancer viewer. setupDefaultViewer() also publishes it as window.viewer,
// which the driver (view-check.mjs) reads for load errors and the segment under the mouse.
import "neuroglancer";
import { setupDefaultViewer } from "neuroglancer/unstable/ui/default_viewer_setup.js";

setupDefaultViewer();
