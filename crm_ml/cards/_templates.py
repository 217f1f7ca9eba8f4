"""Jinja2 templates of the model card (kept in Python so they ship without package-data config).

User text is escaped in both: the HTML template with ``| e``; in the Markdown template every
``{{ value }}`` is escaped by the renderer (``crm_ml.cards.card.md_escape``), ``| code`` makes
a code span and ``| block`` a fenced block for multi-line text.
"""

MARKDOWN = """\
# {{ card.title }}

> **Quality grade: {{ grade }}** — {{ grade_meaning }} the simple baseline
> ({{ baseline.baseline_rule or "baseline" }}) on {{ (baseline.metric or "the headline metric") | code }},
> measured on the same held-out data.
>
> {{ grade_text }}

Registered model: {{ card.name | code }}

## Model details

{{ tables.model_details }}
{% if library_versions %}
Library versions: {{ library_versions }}
{% endif %}
## Intended use

{% if card.intended_use %}{{ card.intended_use }}{% else %}_Not stated._{% endif %}

## Out-of-scope uses

{% if card.out_of_scope %}{{ card.out_of_scope }}{% else %}_Not stated._{% endif %}

## Training and evaluation data

{{ tables.data }}

## Metrics on held-out data

{{ tables.metrics }}

Intervals are {{ ci_level }} percentile bootstrap confidence intervals over held-out rows.

## Results per slice

{% if tables.slices %}{{ tables.slices }}

Slices with fewer rows have wider uncertainty; look for slices where the model is weak.
{% else %}_No slice results._
{% endif %}
## Calibration

{% if tables.calibration %}{{ tables.calibration }}
{% else %}_No calibration table._
{% endif %}
## Top drivers (SHAP)

{% if tables.drivers %}{{ tables.drivers }}
{% else %}_No driver analysis._
{% endif %}
## Caveats and recommendations

{% for c in card.caveats %}- {{ c }}
{% else %}_None stated._
{% endfor %}
## Data quality

{% if tables.data_quality %}{{ tables.data_quality }}
{% else %}_No data-quality report._
{% endif %}
{% for title, body in card.extra_sections.items() %}
## {{ title }}

{{ body | block }}
{% endfor %}
{% if figures %}
## Figures

{% for name, path in figures.items() %}### {{ name }}

![{{ name }}]({{ path }})

{% endfor %}{% endif %}
"""

HTML = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{ card.title | e }}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 960px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.5; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #eee; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .7em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f4f4f4; padding: 0 .25em; border-radius: 3px; }
.grade { padding: 1em 1.2em; border-radius: 6px; margin: 1em 0; border: 1px solid; }
.grade-A { background: #e8f5e9; border-color: #66bb6a; }
.grade-B { background: #fff8e1; border-color: #ffca28; }
.grade-C { background: #ffebee; border-color: #ef5350; }
.grade .letter { font-size: 2em; font-weight: bold; margin-right: .4em; }
.rule { font-size: .9em; color: #444; }
img { max-width: 100%; border: 1px solid #eee; }
.muted { color: #777; font-style: italic; }
</style>
</head>
<body>
<h1>{{ card.title | e }}</h1>
<div class="grade grade-{{ grade }}">
  <span class="letter">{{ grade }}</span>
  <strong>{{ grade_meaning | e }} the simple baseline</strong>
  ({{ (baseline.baseline_rule or "baseline") | e }}) on <code>{{ (baseline.metric or "") | e }}</code>,
  measured on the same held-out data.
  <p class="rule">{{ grade_text | e }}</p>
</div>
<p>Registered model: <code>{{ card.name | e }}</code></p>

<h2>Model details</h2>
{{ tables.model_details }}
{% if library_versions %}<p>Library versions: {{ library_versions | e }}</p>{% endif %}

<h2>Intended use</h2>
<p>{{ (card.intended_use or "Not stated.") | e }}</p>

<h2>Out-of-scope uses</h2>
<p>{{ (card.out_of_scope or "Not stated.") | e }}</p>

<h2>Training and evaluation data</h2>
{{ tables.data }}

<h2>Metrics on held-out data</h2>
{{ tables.metrics }}
<p>Intervals are {{ ci_level }} percentile bootstrap confidence intervals over held-out rows.</p>

<h2>Results per slice</h2>
{% if tables.slices %}{{ tables.slices }}
<p>Slices with fewer rows have wider uncertainty; look for slices where the model is weak.</p>
{% else %}<p class="muted">No slice results.</p>{% endif %}

<h2>Calibration</h2>
{% if tables.calibration %}{{ tables.calibration }}{% else %}<p class="muted">No calibration table.</p>{% endif %}

<h2>Top drivers (SHAP)</h2>
{% if tables.drivers %}{{ tables.drivers }}{% else %}<p class="muted">No driver analysis.</p>{% endif %}

<h2>Caveats and recommendations</h2>
{% if card.caveats %}<ul>{% for c in card.caveats %}<li>{{ c | e }}</li>{% endfor %}</ul>
{% else %}<p class="muted">None stated.</p>{% endif %}

<h2>Data quality</h2>
{% if tables.data_quality %}{{ tables.data_quality }}{% else %}<p class="muted">No data-quality report.</p>{% endif %}

{% for title, body in card.extra_sections.items() %}
<h2>{{ title | e }}</h2>
<pre style="white-space: pre-wrap; font-family: inherit;">{{ body | e }}</pre>
{% endfor %}

{% if figures %}<h2>Figures</h2>
{% for name, b64 in figures.items() %}<h3>{{ name | e }}</h3>
<img alt="{{ name | e }}" src="data:image/png;base64,{{ b64 }}">
{% endfor %}{% endif %}
</body>
</html>
"""
