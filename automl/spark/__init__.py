"""Everything that talks to Spark: sessions, scenario planning, and the applyInPandas runners."""
