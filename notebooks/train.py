# Databricks notebook source
# MAGIC %md
# MAGIC # Train: one tuned model per scenario
# MAGIC
# MAGIC Trains every scenario of one use case with `automl.jobs.train`, the library call behind `automl train`,
# MAGIC shows the results table (one row per scenario) and exits with the job summary JSON. The training run id
# MAGIC is also published as the task value `run_id`, which the `predict` task of the same job reads.
# MAGIC
# MAGIC | Widget | Meaning |
# MAGIC |---|---|
# MAGIC | `config` | Use-case YAML file, e.g. `../configs/demand.yaml` (jobs pass an absolute workspace path). |
# MAGIC | `run_date` | `YYYY-MM-DD`, or empty for all rows. Training uses only rows *before* this date: `<time_column> < DATE'run_date'` is ANDed onto `data.filter`. Ignored by configs without a `time_column`. |
# MAGIC | `overrides` | Config overrides for this run, like `automl train --set`: `dotted.key=value`, one a line or separated by `;`. |
# MAGIC | `platform_overrides` | Overrides the bundle sets per deployment target (e.g. MLflow tracking on the workspace); applied before `overrides`. |
# MAGIC
# MAGIC The cluster needs the `automl` wheel (the bundle's jobs install it) and `AUTOML_DATA_DIR` / `AUTOML_OUTPUT_DIR`
# MAGIC pointing at a location every node shares, e.g. a Unity Catalog volume under `/Volumes/...`.

# COMMAND ----------

dbutils.widgets.text("config", "../configs/demand.yaml", "Config file")
dbutils.widgets.text("run_date", "", "Run date (YYYY-MM-DD, empty: all rows)")
dbutils.widgets.text("overrides", "", "Overrides (key=value; ...)")
dbutils.widgets.text("platform_overrides", "", "Platform overrides (set by the bundle)")

# COMMAND ----------

from automl import jobs, notebook

notebook.configure_logging()
config = notebook.load_job_config(
    dbutils.widgets.get("config"),
    overrides=[dbutils.widgets.get("platform_overrides"), dbutils.widgets.get("overrides")],
    run_date=dbutils.widgets.get("run_date"),
)
summary = jobs.train(config, spark=spark, progress=True)

# COMMAND ----------

displayHTML(notebook.report_html(summary))

# COMMAND ----------

display(notebook.output_frame(spark, config, summary))

# COMMAND ----------

dbutils.jobs.taskValues.set(key="run_id", value=summary.run_id)
notebook.raise_if_failed(summary)
dbutils.notebook.exit(summary.to_json())
