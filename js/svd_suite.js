// SVD Suite front-end extension: in-node video preview and remote job status.
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "SVDSuite.Preview",
});
