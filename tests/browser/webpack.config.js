// Static neuroglancer viewer for the end-to-end tests (see README.md here).
// Only the precomputed data source and the http/s3 key-value stores are bundled: that is
// all the tests load, and it keeps the build short.
import HtmlWebpackPlugin from "html-webpack-plugin";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export default {
  mode: "production",
  devtool: false,
  performance: { hints: false },
  entry: path.join(here, "src", "index.js"),
  resolve: {
    conditionNames: [
      "neuroglancer/datasource:none_by_default",
      "neuroglancer/datasource/precomputed:enabled",
      "neuroglancer/kvstore/http:enabled",
      "neuroglancer/kvstore/s3:enabled",
      "...",
    ],
  },
  module: {
    rules: [
      { resourceQuery: /raw/, type: "asset/source" },
      { test: /\.html$/, type: "asset/resource", generator: { filename: "[name][ext]" } },
      { test: /\.css$/, use: ["style-loader", "css-loader"] },
    ],
  },
  output: { path: process.env.VIEWER_DIST ?? path.join(here, "dist"), clean: true },
  plugins: [new HtmlWebpackPlugin({ title: "neuroglancer (PrecomputedTools test build)" })],
};
