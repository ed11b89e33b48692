//! Cron schedules. (First cut: validation and next fire times; firing
//! arrives with the scheduler issue.)

use crate::engine::Engine;
use crate::error::Result;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    default_tz: chrono_tz::Tz,
}

impl Scheduler {
    pub async fn start(engine: Engine, default_tz: chrono_tz::Tz) -> anyhow::Result<Self> {
        Ok(Scheduler {
            inner: Arc::new(Inner { engine, default_tz }),
        })
    }

    /// Checks an expression; the message says what is wrong.
    pub fn validate(&self, expr: &str) -> Result<(), String> {
        parse(expr).map(|_| ())
    }

    /// Re-reads one script's schedule after it was saved or deleted.
    pub async fn reload(&self, _name: &str) {}

    /// Every scheduled script with its next `n` fire times.
    pub async fn list(&self, n: usize) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        for s in self.inner.engine.store().list_scripts().await? {
            let Some(expr) = &s.cron else { continue };
            let tz: chrono_tz::Tz = s
                .time_zone
                .as_deref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(self.inner.default_tz);
            let mut next = Vec::new();
            if let Ok(cron) = parse(expr) {
                let mut t = chrono::Utc::now().with_timezone(&tz);
                for _ in 0..n {
                    match cron.find_next_occurrence(&t, false) {
                        Ok(x) => {
                            next.push(x.to_rfc3339());
                            t = x;
                        }
                        Err(_) => break,
                    }
                }
            }
            out.push(json!({"name": s.name, "cron": expr, "timeZone": tz.name(), "disabled": s.disabled, "next": next}));
        }
        Ok(out)
    }
}

fn parse(expr: &str) -> Result<croner::Cron, String> {
    croner::Cron::new(expr)
        .with_seconds_optional()
        .with_dom_and_dow()
        .parse()
        .map_err(|e| format!("{expr:?} is not a valid cron expression: {e}"))
}
