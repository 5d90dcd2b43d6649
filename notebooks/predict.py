# Databricks notebook source
# MAGIC %md
# MAGIC # Predict: score new rows with each scenario's model
# MAGIC
# MAGIC Scores the use case's prediction input (`predict_path` / `predict_table` of its streams) with the models
# MAGIC of one training run, via `automl.jobs.predict`, the library call behind `automl predict`; shows the
# MAGIC predictions and exits with the job summary JSON.
# MAGIC
# MAGIC | Widget | Meaning |
# MAGIC |---|---|
# MAGIC | `config` | Use-case YAML file, e.g. `../configs/demand.yaml` (jobs pass an absolute workspace path). |
# MAGIC | `train_run_id` | Training run whose models to use; empty: the model set (every scenario's champion). In a job it is the `train` task's `run_id` task value. |
# MAGIC | `run_date` | `YYYY-MM-DD`, or empty for all rows. Only rows *on or after* this date are scored: `<time_column> >= DATE'run_date'` is ANDed onto `data.filter`. Ignored by configs without a `time_column`. |
# MAGIC | `overrides` | Config overrides for this run, like `automl predict --set`: `dotted.key=value`, one a line or separated by `;`. Use the same ones as for training (e.g. `output.path`). |
# MAGIC | `platform_overrides` | Overrides the bundle sets per deployment target (e.g. MLflow tracking on the workspace); applied before `overrides`. |

# COMMAND ----------

dbutils.widgets.text("config", "../configs/demand.yaml", "Config file")
dbutils.widgets.text("train_run_id", "", "Training run id (empty: the champions)")
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
    for_prediction=True,
)
summary = jobs.predict(config, spark=spark, run_id=dbutils.widgets.get("train_run_id") or None, progress=True)

# COMMAND ----------

displayHTML(notebook.report_html(summary))

# COMMAND ----------

display(notebook.output_frame(spark, config, summary))

# COMMAND ----------

notebook.raise_if_failed(summary)
dbutils.notebook.exit(summary.to_json())
