//! Mouse and keyboard, through xdotool (XTEST). Coordinates are checked against the screen and key
//! names against [`crate::keys`] first, so a mistake is a 400 and never a silent no-op.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{DesktopError, DesktopResult};
use crate::keys;
use crate::{Desktop, args};

/// Longest text `type` takes in one call.
const MAX_TEXT: usize = 10_000;
/// Most clicks of one click or scroll call.
const MAX_CLICKS: u32 = 100;

/// `POST /desktop/mouse/click`.
#[derive(Debug, Deserialize)]
pub struct Click {
    pub x: i64,
    pub y: i64,
    #[serde(default)]
    pub button: Option<Value>,
    #[serde(default)]
    pub clicks: Option<u32>,
}

/// `POST /desktop/mouse/move`.
#[derive(Debug, Deserialize)]
pub struct Move {
    pub x: i64,
    pub y: i64,
}

/// `POST /desktop/mouse/drag`, `POST /desktop/x11/drag_drop`.
#[derive(Debug, Deserialize)]
pub struct Drag {
    pub from_x: i64,
    pub from_y: i64,
    pub to_x: i64,
    pub to_y: i64,
    #[serde(default)]
    pub button: Option<Value>,
}

/// `POST /desktop/mouse/scroll`: the Python SDK's `{amount, direction}` or the TypeScript SDK's
/// `{x, y, delta_y}` (wheel steps; negative scrolls up).
#[derive(Debug, Default, Deserialize)]
pub struct Scroll {
    pub amount: Option<i64>,
    pub direction: Option<String>,
    pub x: Option<i64>,
    pub y: Option<i64>,
    pub delta_y: Option<i64>,
    pub delta_x: Option<i64>,
}

/// `POST /desktop/keyboard/type`.
#[derive(Debug, Deserialize)]
pub struct Type {
    pub text: String,
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// `POST /desktop/keyboard/press`.
#[derive(Debug, Deserialize)]
pub struct Press {
    pub key: String,
}

/// `POST /desktop/keyboard/combination`, `POST /desktop/x11/hotkey`: `{modifiers, key}` (Python) or
/// `{keys}` (TypeScript).
#[derive(Debug, Default, Deserialize)]
pub struct Combination {
    #[serde(default)]
    pub modifiers: Vec<String>,
    pub key: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
}

impl Combination {
    fn chord(&self) -> DesktopResult<String> {
        let all = self
            .modifiers
            .iter()
            .chain(self.keys.iter())
            .chain(self.key.iter())
            .map(String::as_str);
        keys::chord(all)
    }
}

fn button(b: Option<&Value>) -> DesktopResult<u8> {
    let n = match b {
        None | Some(Value::Null) => return Ok(1),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "left" => 1,
            "middle" => 2,
            "right" => 3,
            other => other.parse().unwrap_or(0),
        },
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(_) => 0,
    };
    match n {
        1..=9 => Ok(n as u8),
        _ => Err(DesktopError::invalid(
            "button must be left, middle, right or a button number 1 to 9",
        )),
    }
}

fn count(clicks: Option<u32>) -> DesktopResult<u32> {
    match clicks.unwrap_or(1) {
        n @ 1..=MAX_CLICKS => Ok(n),
        _ => Err(DesktopError::invalid(format!(
            "clicks must be between 1 and {MAX_CLICKS}"
        ))),
    }
}

/// The points a drag passes after its start: `DRAG_STEPS` evenly spaced, the last one `to`.
const DRAG_STEPS: i64 = 8;

fn drag_path(from: (u32, u32), to: (u32, u32)) -> impl Iterator<Item = (u32, u32)> {
    (1..=DRAG_STEPS).map(move |i| {
        // Between two points on the screen: never negative, never past the farther one.
        let along =
            |a: u32, b: u32| (i64::from(a) + (i64::from(b) - i64::from(a)) * i / DRAG_STEPS) as u32;
        (along(from.0, to.0), along(from.1, to.1))
    })
}

impl Desktop {
    /// `(x, y)` as a pixel of the screen, else 400 `INVALID_COORDINATES`.
    pub async fn point(&self, x: i64, y: i64) -> DesktopResult<(u32, u32)> {
        let (w, h) = self.x.size().await?;
        if (0..i64::from(w)).contains(&x) && (0..i64::from(h)).contains(&y) {
            Ok((x as u32, y as u32))
        } else {
            Err(DesktopError::off_screen(
                &format!("The point ({x}, {y})"),
                w,
                h,
            ))
        }
    }

    async fn xdotool(&self, args: Vec<String>, timeout: Duration) -> DesktopResult<()> {
        self.run_ok("xdotool", &args, None, timeout).await.map(drop)
    }

    pub async fn click(&self, req: &Click) -> DesktopResult<()> {
        let (x, y) = self.point(req.x, req.y).await?;
        let b = button(req.button.as_ref())?;
        let n = count(req.clicks)?;
        // xdotool sleeps `--delay` (100 ms unless given) after every click, the last one too: a
        // pause only between several.
        let delay = if n > 1 { "40" } else { "0" };
        let args = args(&[
            "mousemove",
            &x.to_string(),
            &y.to_string(),
            "click",
            "--repeat",
            &n.to_string(),
            "--delay",
            delay,
            &b.to_string(),
        ]);
        self.xdotool(args, Duration::from_secs(10)).await
    }

    pub async fn move_to(&self, req: &Move) -> DesktopResult<()> {
        let (x, y) = self.point(req.x, req.y).await?;
        let args = args(&["mousemove", &x.to_string(), &y.to_string()]);
        self.xdotool(args, Duration::from_secs(5)).await
    }

    pub async fn drag(&self, req: &Drag) -> DesktopResult<()> {
        let (fx, fy) = self.point(req.from_x, req.from_y).await?;
        let (tx, ty) = self.point(req.to_x, req.to_y).await?;
        let b = button(req.button.as_ref())?.to_string();
        let mut argv = args(&[
            "mousemove",
            &fx.to_string(),
            &fy.to_string(),
            "mousedown",
            &b,
        ]);
        // The pointer travels in steps with pauses: window managers and toolkits start a drag on a
        // motion after the press and follow the later ones (one jump to the end moves nothing).
        for (x, y) in drag_path((fx, fy), (tx, ty)) {
            argv.extend(args(&[
                "sleep",
                "0.01",
                "mousemove",
                &x.to_string(),
                &y.to_string(),
            ]));
        }
        argv.extend(args(&["sleep", "0.05", "mouseup", &b]));
        self.xdotool(argv, Duration::from_secs(10)).await
    }

    pub async fn scroll(&self, req: &Scroll) -> DesktopResult<()> {
        let mut argv = Vec::new();
        if let (Some(x), Some(y)) = (req.x, req.y) {
            let (x, y) = self.point(x, y).await?;
            argv.extend(args(&["mousemove", &x.to_string(), &y.to_string()]));
        }
        let (b, steps) = match (&req.direction, req.delta_y, req.delta_x) {
            (Some(d), _, _) => {
                let b = match d.to_ascii_lowercase().as_str() {
                    "up" => 4,
                    "down" => 5,
                    "left" => 6,
                    "right" => 7,
                    _ => {
                        return Err(DesktopError::invalid(
                            "direction must be up, down, left or right",
                        ));
                    }
                };
                (b, req.amount.unwrap_or(1))
            }
            (None, Some(dy), _) if dy != 0 => (if dy < 0 { 4 } else { 5 }, dy.abs()),
            (None, _, Some(dx)) if dx != 0 => (if dx < 0 { 6 } else { 7 }, dx.abs()),
            (None, _, _) => (5, req.amount.unwrap_or(1)),
        };
        let steps = u32::try_from(steps)
            .ok()
            .filter(|s| (1..=MAX_CLICKS).contains(s))
            .ok_or_else(|| {
                DesktopError::invalid(format!("scroll amount must be 1 to {MAX_CLICKS} steps"))
            })?;
        argv.extend(args(&[
            "click",
            "--repeat",
            &steps.to_string(),
            "--delay",
            "20",
            &b.to_string(),
        ]));
        self.xdotool(argv, Duration::from_secs(10)).await
    }

    pub async fn type_text(&self, req: &Type) -> DesktopResult<()> {
        if req.text.len() > MAX_TEXT {
            return Err(DesktopError::invalid(format!(
                "text is longer than {MAX_TEXT} bytes; type it in parts"
            )));
        }
        if req.text.is_empty() {
            return Ok(());
        }
        // xdotool also waits the delay after the last key: one character needs none.
        let delay = if req.text.chars().nth(1).is_none() {
            0
        } else {
            req.delay_ms.unwrap_or(12).min(1000)
        };
        let budget = Duration::from_millis(delay * req.text.chars().count() as u64 + 10_000);
        let args = args(&["type", "--delay", &delay.to_string(), "--", &req.text]);
        self.xdotool(args, budget).await
    }

    pub async fn press(&self, req: &Press) -> DesktopResult<()> {
        let chord = keys::chord([req.key.as_str()])?;
        self.xdotool(args(&["key", "--", &chord]), Duration::from_secs(5))
            .await
    }

    pub async fn combination(&self, req: &Combination) -> DesktopResult<()> {
        let chord = req.chord()?;
        self.xdotool(args(&["key", "--", &chord]), Duration::from_secs(5))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drag_passes_evenly_spaced_points_and_ends_at_its_target() {
        let path: Vec<_> = drag_path((0, 100), (80, 60)).collect();
        assert_eq!(path.len(), DRAG_STEPS as usize);
        assert_eq!(path[0], (10, 95));
        assert_eq!(path[3], (40, 80));
        assert_eq!(path.last(), Some(&(80, 60)));
    }

    #[test]
    fn buttons_and_click_counts_are_checked() {
        assert_eq!(button(None).unwrap(), 1);
        assert_eq!(button(Some(&"right".into())).unwrap(), 3);
        assert_eq!(button(Some(&2.into())).unwrap(), 2);
        assert!(button(Some(&"thumb".into())).is_err());
        assert!(button(Some(&0.into())).is_err());
        assert_eq!(count(None).unwrap(), 1);
        assert!(count(Some(0)).is_err());
        assert!(count(Some(MAX_CLICKS + 1)).is_err());
    }

    #[test]
    fn both_sdks_combinations_become_one_chord() {
        let py = Combination {
            modifiers: vec!["ctrl".into(), "shift".into()],
            key: Some("t".into()),
            keys: vec![],
        };
        assert_eq!(py.chord().unwrap(), "ctrl+shift+t");
        let ts = Combination {
            keys: vec!["ctrl".into(), "c".into()],
            ..Combination::default()
        };
        assert_eq!(ts.chord().unwrap(), "ctrl+c");
    }
}
