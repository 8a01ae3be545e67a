//! Key names: what `press`, `combination` and `hotkey` take, checked before xdotool sees them (xdotool
//! ignores a name it does not know and exits 0, which would hide the mistake). Friendly names
//! (`ctrl`, `enter`, `esc`, `pageup`, `f5`, …) map to X keysym names; X keysym names of the usual keys
//! are taken as they are; a single printable character is its own key.

use crate::error::{DesktopError, DesktopResult};

/// Friendly names, lower case, and the keysym each stands for.
const ALIASES: [(&str, &str); 38] = [
    ("ctrl", "ctrl"),
    ("control", "ctrl"),
    ("alt", "alt"),
    ("option", "alt"),
    ("shift", "shift"),
    ("super", "super"),
    ("win", "super"),
    ("windows", "super"),
    ("cmd", "super"),
    ("command", "super"),
    ("meta", "super"),
    ("enter", "Return"),
    ("return", "Return"),
    ("esc", "Escape"),
    ("escape", "Escape"),
    ("tab", "Tab"),
    ("backspace", "BackSpace"),
    ("delete", "Delete"),
    ("del", "Delete"),
    ("insert", "Insert"),
    ("ins", "Insert"),
    ("space", "space"),
    ("up", "Up"),
    ("down", "Down"),
    ("left", "Left"),
    ("right", "Right"),
    ("home", "Home"),
    ("end", "End"),
    ("pageup", "Page_Up"),
    ("page_up", "Page_Up"),
    ("pgup", "Page_Up"),
    ("pagedown", "Page_Down"),
    ("page_down", "Page_Down"),
    ("pgdn", "Page_Down"),
    ("printscreen", "Print"),
    ("print", "Print"),
    ("capslock", "Caps_Lock"),
    ("menu", "Menu"),
];

/// X keysym names taken as they are (besides F1–F35, KP_0–KP_9 and single characters).
const KEYSYMS: [&str; 40] = [
    "Return",
    "Tab",
    "Escape",
    "BackSpace",
    "Delete",
    "Insert",
    "Home",
    "End",
    "Page_Up",
    "Page_Down",
    "Prior",
    "Next",
    "Up",
    "Down",
    "Left",
    "Right",
    "space",
    "Print",
    "Pause",
    "Menu",
    "Caps_Lock",
    "Num_Lock",
    "Scroll_Lock",
    "Shift_L",
    "Shift_R",
    "Control_L",
    "Control_R",
    "Alt_L",
    "Alt_R",
    "Super_L",
    "Super_R",
    "Meta_L",
    "Meta_R",
    "KP_Enter",
    "KP_Add",
    "KP_Subtract",
    "KP_Multiply",
    "KP_Divide",
    "KP_Decimal",
    "Linefeed",
];

/// Printable ASCII punctuation and the keysym of each (xdotool wants the names).
const PUNCTUATION: [(char, &str); 32] = [
    (' ', "space"),
    ('!', "exclam"),
    ('"', "quotedbl"),
    ('#', "numbersign"),
    ('$', "dollar"),
    ('%', "percent"),
    ('&', "ampersand"),
    ('\'', "apostrophe"),
    ('(', "parenleft"),
    (')', "parenright"),
    ('*', "asterisk"),
    ('+', "plus"),
    (',', "comma"),
    ('-', "minus"),
    ('.', "period"),
    ('/', "slash"),
    (':', "colon"),
    (';', "semicolon"),
    ('<', "less"),
    ('=', "equal"),
    ('>', "greater"),
    ('?', "question"),
    ('@', "at"),
    ('[', "bracketleft"),
    ('\\', "backslash"),
    (']', "bracketright"),
    ('^', "asciicircum"),
    ('_', "underscore"),
    ('`', "grave"),
    ('{', "braceleft"),
    ('|', "bar"),
    ('}', "braceright"),
];

/// The keysym name xdotool gets for `name`, or 400 `INVALID_KEY`.
pub fn keysym(name: &str) -> DesktopResult<String> {
    let mut chars = name.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if c.is_ascii_alphanumeric() {
            return Ok(c.to_string());
        }
        if let Some((_, sym)) = PUNCTUATION.iter().find(|(p, _)| *p == c) {
            return Ok((*sym).to_owned());
        }
        if c == '~' {
            return Ok("asciitilde".into());
        }
    }
    let lower = name.to_ascii_lowercase();
    if let Some((_, sym)) = ALIASES.iter().find(|(a, _)| *a == lower) {
        return Ok((*sym).to_owned());
    }
    if KEYSYMS.contains(&name) || numbered(name, "F", 1, 35) || numbered(name, "KP_", 0, 9) {
        return Ok(name.to_owned());
    }
    if let Some(n) = lower.strip_prefix('f')
        && numbered(&format!("F{n}"), "F", 1, 35)
    {
        return Ok(format!("F{n}"));
    }
    Err(unknown(name))
}

fn numbered(name: &str, prefix: &str, lo: u32, hi: u32) -> bool {
    name.strip_prefix(prefix)
        .and_then(|n| {
            (!n.starts_with('0') || n == "0")
                .then(|| n.parse::<u32>().ok())
                .flatten()
        })
        .is_some_and(|n| (lo..=hi).contains(&n))
}

fn unknown(name: &str) -> DesktopError {
    DesktopError::new(
        400,
        "INVALID_KEY",
        format!(
            "Unknown key name {name:?}: use a single character, a name such as enter, esc, tab, \
             backspace, delete, up, pageup, home, f5, ctrl, alt, shift, super, or an X keysym name \
             such as Return or Page_Up"
        ),
    )
    .with_detail("key", name)
}

/// xdotool's chord for `keys` (`ctrl+shift+t`); `keys` may itself hold `+`-joined chords.
pub fn chord<'a>(keys: impl IntoIterator<Item = &'a str>) -> DesktopResult<String> {
    let mut parts = Vec::new();
    for k in keys {
        // "+" alone is the plus key; "ctrl+c" is a chord.
        if k == "+" || !k.contains('+') {
            parts.push(keysym(k)?);
        } else {
            for p in k.split('+') {
                parts.push(keysym(p.trim())?);
            }
        }
    }
    if parts.is_empty() {
        return Err(DesktopError::invalid("No key given"));
    }
    Ok(parts.join("+"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_names_keysyms_and_characters_are_keys() {
        for (name, sym) in [
            ("Return", "Return"),
            ("enter", "Return"),
            ("ESC", "Escape"),
            ("a", "a"),
            ("7", "7"),
            (",", "comma"),
            ("f5", "F5"),
            ("F12", "F12"),
            ("KP_0", "KP_0"),
            ("pageup", "Page_Up"),
        ] {
            assert_eq!(keysym(name).unwrap(), sym, "{name}");
        }
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["NoSuchKey", "F0", "F36", "F05", "", "ctrl c", "éé"] {
            let e = keysym(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "INVALID_KEY"), "{bad:?}");
        }
    }

    #[test]
    fn chords_join_modifiers_and_split_plus() {
        assert_eq!(chord(["ctrl", "c"]).unwrap(), "ctrl+c");
        assert_eq!(chord(["ctrl+shift+t"]).unwrap(), "ctrl+shift+t");
        assert_eq!(chord(["ctrl", "+"]).unwrap(), "ctrl+plus");
        assert!(chord(["ctrl", "bogus"]).is_err());
        assert!(chord(std::iter::empty()).is_err());
    }
}
