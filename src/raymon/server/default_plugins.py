"""Raymon's own plugin: the built-in data types, extractors and scores, offered through the public hooks.

Registered by ``Plugins.load`` exactly as a user's package is (``hookspecs``), so
the server knows no class a plugin could not give it too. The lists are explicit:
a new built-in class is loadable on the server once it is added here (a test
compares them with every public class of ``raymon.types`` and
``raymon.profiling``). The visualisations, mappers, reducers and alert channels
of the coming engine and UI register here as well. This module never imports a
module named in data.
"""

from __future__ import annotations

from typing import Any

from raymon.server.hookspecs import hookimpl


@hookimpl
def register_data_types() -> list[type[Any]]:
    from raymon import types as rt

    return [rt.Native, rt.Numpy, rt.DataFrame, rt.Series, rt.Image]


@hookimpl
def register_extractors() -> list[type[Any]]:
    from raymon.profiling.extractors.structured import anomaly, classifier, element, scoring
    from raymon.profiling.extractors.vision import extractors as vision

    return [
        element.ElementExtractor,
        anomaly.IsolationForestScorer,
        anomaly.KMeansOutlierScorer,
        classifier.ClassifierEntropy,
        classifier.ClassifierMargin,
        scoring.AbsoluteRegressionError,
        scoring.SquaredRegressionError,
        scoring.ClassificationCorrect,
        scoring.ClassificationErrorType,
        vision.AvgIntensity,
        vision.Sharpness,
        vision.ImageOutlierScorer,
    ]


@hookimpl
def register_scores() -> list[type[Any]]:
    from raymon.profiling import scores

    return [scores.MeanScore, scores.PrecisionScore, scores.RecallScore, scores.F1Score, scores.AccuracyScore]


@hookimpl
def register_mappers() -> list[Any]:
    from raymon.server.engine import builtin_mappers
    from raymon.server.hookspecs import Mapper

    return [
        Mapper(
            "profile_eval",
            builtin_mappers.profile_eval,
            "A profile's evaluation components (validate_eval) on a trace's output and actual.",
        ),
        Mapper(
            "webhook",
            builtin_mappers.webhook,
            "POSTs the inputs (jcr) to a URL, signed per Standard Webhooks; stores the tags it answers.",
        ),
    ]


@hookimpl
def register_alert_channels() -> list[Any]:
    from raymon.server.engine.alerts import channels
    from raymon.server.hookspecs import AlertChannel

    return [
        AlertChannel("slack", channels.slack, "Posts to a Slack incoming webhook (`webhook`)"),
        AlertChannel(
            "webhook",
            channels.webhook,
            "POSTs signed JSON (Standard Webhooks; `url`, `secret`), or Alertmanager's v4 payload "
            "(`format: alertmanager`)",
        ),
    ]


@hookimpl
def register_reducers() -> list[Any]:
    from raymon.server.engine import reduce_jobs
    from raymon.server.hookspecs import Reducer

    return [
        Reducer(
            "profile_reducer",
            reduce_jobs.load_reducer,
            "Per window and slice, the production stats of a profile's components, contrasted with it.",
        )
    ]


@hookimpl
def register_visualisations() -> list[Any]:
    from raymon.server.engine import builtin_visualisations as visuals
    from raymon.server.hookspecs import Visualisation

    return [
        Visualisation("img2html", visuals.img2html, "An rt.Image as an <img>."),
        Visualisation("pandas2html", visuals.pandas2html, "An rt.DataFrame or rt.Series as a table."),
        Visualisation("native2html", visuals.native2html, "An rt.Native value as JSON."),
        Visualisation(
            "dataframe_table",
            visuals.dataframe_table,
            "An rt.DataFrame or rt.Series as a table, every cell and name escaped (the trace page's default).",
        ),
        Visualisation(
            "numpy2html",
            visuals.numpy2html,
            "An rt.Numpy array as a table of its first rows, with a heatmap of a 2-D numeric one.",
        ),
    ]
