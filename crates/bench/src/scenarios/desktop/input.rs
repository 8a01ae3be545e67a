//! Input to pixels: how long after a click or a typed key its effect is in a screenshot through the
//! router. Two xterms side by side; a click on the one without the focus moves the focus (the window
//! manager redraws both frames), a typed key draws a character in the focused one.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};
use serde_json::json;

use super::{post, run, screenshot};
use crate::stats::Samples;
use crate::warren::{Sandbox, Warren};

/// The two windows (DISPLAY=:1 comes from the image), and a point inside each.
const XTERMS: [(&str, (u32, u32)); 2] = [
    ("xterm -display :1 -geometry 40x10+0+0", (100, 60)),
    ("xterm -display :1 -geometry 40x10+400+0", (500, 60)),
];

/// How the rounds go, for the table's note.
pub const METHOD: &str = "Click and typed key: two xterms side by side; per round a screenshot, then \
    `POST /desktop/mouse/click` on the xterm without the focus (clicks alternate) or `POST \
    /desktop/keyboard/type {\"text\":\"x\"}` into the focused one, then screenshots until one differs; \
    timed from the input request's start to that screenshot's end.";

/// One kind of input: until the change was seen, the input call alone, screenshots it took.
#[derive(Default)]
pub struct Reaction {
    pub seen: Samples,
    pub call: Samples,
    pub tries: Samples,
}

pub struct Reactions {
    pub click: Reaction,
    pub key: Reaction,
}

/// Opens the xterms on the screen `blank` (a screenshot without them) and measures `rounds` clicks,
/// then `rounds` typed keys.
pub async fn reactions(
    w: &Warren,
    sb: &Sandbox,
    blank: &[u8],
    rounds: usize,
) -> anyhow::Result<Reactions> {
    for (i, (xterm, _)) in XTERMS.iter().enumerate() {
        let command = format!("{xterm} 2>/tmp/xterm{i}.log");
        post(
            w,
            sb,
            "/commands/background",
            json!({ "command": command, "timeout": 3600 }),
        )
        .await?;
    }
    let t = Instant::now();
    let mut last = blank.to_vec();
    // Both windows drawn: two screenshots in a row alike, and neither the blank screen.
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = screenshot(w, sb).await?.0;
        if now != blank && now == last {
            break;
        }
        if t.elapsed() > Duration::from_secs(20) {
            let log = run(w, sb, "cat /tmp/xterm*.log; ps ax").await?;
            bail!("the xterms did not appear: {log}");
        }
        last = now;
    }
    // The focus on the second xterm, whichever the window manager focused: the first click goes to
    // the first one.
    let (x, y) = XTERMS[1].1;
    post(w, sb, "/desktop/mouse/click", json!({ "x": x, "y": y })).await?;
    let mut round = 0;
    let click = measure(w, sb, rounds, || {
        let (x, y) = XTERMS[round % 2].1;
        round += 1;
        post(w, sb, "/desktop/mouse/click", json!({ "x": x, "y": y }))
    })
    .await?;
    let key = measure(w, sb, rounds, || {
        post(w, sb, "/desktop/keyboard/type", json!({ "text": "x" }))
    })
    .await?;
    Ok(Reactions { click, key })
}

/// `rounds` times: a screenshot, the input `act`, screenshots until one differs.
async fn measure<F, Fut, T>(
    w: &Warren,
    sb: &Sandbox,
    rounds: usize,
    mut act: F,
) -> anyhow::Result<Reaction>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let mut r = Reaction::default();
    for _ in 0..rounds {
        // Let the previous round's drawing settle, so only this input changes the screen.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = screenshot(w, sb).await?.0;
        let t = Instant::now();
        act().await?;
        r.call.push(t.elapsed());
        let mut n = 0u64;
        loop {
            n += 1;
            if screenshot(w, sb).await?.0 != before {
                break;
            }
            ensure!(
                t.elapsed() < Duration::from_secs(10),
                "the input changed nothing"
            );
        }
        r.seen.push(t.elapsed());
        // Screenshot counts as milliseconds, so pct() gives them back.
        r.tries.push(Duration::from_millis(n));
    }
    Ok(r)
}
