// See package.json: msgpackr treats a throwing require as "native acceleration not installed".
throw new Error("msgpackr-extract: native acceleration is not installed in this test project");
