# Databricks notebook source
# MAGIC %md
# MAGIC # Demo data: write the example use cases' input
# MAGIC
# MAGIC Writes the synthetic demand and churn data (`automl.demo_data.write_all`, the same as `automl demo-data`)
# MAGIC under `out`, where `configs/demand.yaml` and `configs/churn.yaml` find it when `AUTOML_DATA_DIR` points there.
# MAGIC Run it once per workspace (or volume) before the example jobs.
# MAGIC
# MAGIC | Widget | Meaning |
# MAGIC |---|---|
# MAGIC | `out` | Directory to write into, shared by every node, e.g. `/Volumes/main/automl/files/data`. |
# MAGIC | `small` | `true` for test-sized data (seconds to train), `false` for the full example. |

# COMMAND ----------

dbutils.widgets.text("out", "/Volumes/main/automl/files/data", "Output directory")
dbutils.widgets.dropdown("small", "false", ["false", "true"], "Test-sized data")

# COMMAND ----------

import json

from automl.demo_data import write_all

written = write_all(dbutils.widgets.get("out"), small=dbutils.widgets.get("small") == "true")

# COMMAND ----------

dbutils.notebook.exit(json.dumps(written, default=str, sort_keys=True))
