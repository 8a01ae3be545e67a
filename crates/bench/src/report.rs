//! Tables: printed as they are measured, then written as Markdown and JSON.

use serde::Serialize;

/// Whether a row meets its target.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Miss,
    /// No target for this row.
    Info,
}

/// One measured figure beside its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub measure: String,
    pub warren: String,
    pub baseline: String,
    pub ratio: String,
    pub target: String,
    pub verdict: Verdict,
}

impl Row {
    pub fn new(measure: impl Into<String>, warren: impl Into<String>) -> Self {
        Row {
            measure: measure.into(),
            warren: warren.into(),
            baseline: "-".into(),
            ratio: "-".into(),
            target: "-".into(),
            verdict: Verdict::Info,
        }
    }

    /// A baseline and the ratio warren / baseline.
    pub fn against(mut self, baseline: impl Into<String>, warren: f64, base: f64) -> Self {
        self.baseline = baseline.into();
        self.ratio = if base > 0.0 {
            format!("{:.2}", warren / base)
        } else {
            "-".into()
        };
        self
    }

    pub fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.verdict = if met { Verdict::Pass } else { Verdict::Miss };
        self
    }
}

/// One scenario's table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub title: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(title: impl Into<String>) -> Self {
        Table {
            title: title.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## {}\n\n| measure | Warren | baseline | ratio | target | result |\n|---|---|---|---|---|---|\n",
            self.title
        );
        for r in &self.rows {
            let verdict = match r.verdict {
                Verdict::Pass => "pass",
                Verdict::Miss => "**miss**",
                Verdict::Info => "",
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                r.measure, r.warren, r.baseline, r.ratio, r.target, verdict
            ));
        }
        for n in &self.notes {
            out.push_str(&format!("\n{n}\n"));
        }
        out
    }
}

/// Milliseconds, three significant-ish digits.
pub fn fmt_ms(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.0} ms")
    }
}
