//! Plain text from a firmware's serial console.
//!
//! Firmware and boot loaders draw on the serial console with terminal
//! control sequences: SeaBIOS's iPXE moves the cursor between characters,
//! so a marker printed as one word can arrive as
//! `DA\e[25;02H\e[25;03HRT-BOOT-OK`. [`ConsoleText`] removes those
//! sequences as bytes arrive (a sequence may be split across reads) and
//! keeps the printable text, so a marker check sees what a person would.
//!
//! Recognised (ECMA-48): CSI `ESC [` parameters, intermediates and a final
//! byte 0x40–0x7E; OSC/DCS/SOS/PM/APC strings `ESC ] … BEL` or `… ESC \`;
//! and two-byte escapes `ESC x`. Other C0 controls except newline and tab
//! are dropped; carriage return is dropped too, so `\r\n` reads as `\n`.

/// Where the stripper is inside a control sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Ordinary text.
    Text,
    /// After `ESC`.
    Escape,
    /// Inside `ESC [ …` until the final byte.
    Csi,
    /// Inside a string sequence (`ESC ]`, `ESC P`, …) until BEL or `ESC \`.
    String,
    /// After `ESC` inside a string sequence: `\` ends it.
    StringEscape,
}

/// The console's text with terminal control sequences removed, built
/// incrementally from chunks of raw console bytes.
#[derive(Debug, Clone)]
pub struct ConsoleText {
    state: State,
    text: Vec<u8>,
}

impl Default for ConsoleText {
    fn default() -> Self {
        ConsoleText {
            state: State::Text,
            text: Vec::new(),
        }
    }
}

const ESC: u8 = 0x1b;
const BEL: u8 = 0x07;

impl ConsoleText {
    /// An empty console.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends raw console bytes.
    pub fn push(&mut self, raw: &[u8]) {
        for &b in raw {
            self.state = match self.state {
                State::Text => match b {
                    ESC => State::Escape,
                    b'\n' | b'\t' => {
                        self.text.push(b);
                        State::Text
                    }
                    0x00..=0x1f | 0x7f => State::Text,
                    _ => {
                        self.text.push(b);
                        State::Text
                    }
                },
                State::Escape => match b {
                    b'[' => State::Csi,
                    b']' | b'P' | b'X' | b'^' | b'_' => State::String,
                    ESC => State::Escape,
                    _ => State::Text,
                },
                State::Csi => match b {
                    0x40..=0x7e => State::Text,
                    ESC => State::Escape,
                    _ => State::Csi,
                },
                State::String => match b {
                    BEL => State::Text,
                    ESC => State::StringEscape,
                    _ => State::String,
                },
                State::StringEscape => match b {
                    b'\\' => State::Text,
                    ESC => State::StringEscape,
                    _ => State::String,
                },
            };
        }
    }

    /// Whether the text so far contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        let needle = needle.as_bytes();
        needle.is_empty() || self.text.windows(needle.len()).any(|w| w == needle)
    }

    /// The text so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn marker_split_by_ipxe_cursor_moves_is_found() {
        // The exact console SeaBIOS + iPXE produced on a fresh machine.
        let mut console = ConsoleText::new();
        console.push(b"DA\x1b[25;02H\x1b[25;03HRT-BOOT-OK");
        assert!(console.contains("DART-BOOT-OK"), "{:?}", console.text());
    }

    #[test]
    fn sequences_split_across_reads_are_removed() {
        let raw = b"x\x1b[25;02Hy\x1b]0;title\x07z\x1b]2;t\x1b\\w\x1bcq\r\n";
        for cut in 0..raw.len() {
            let mut console = ConsoleText::new();
            console.push(&raw[..cut]);
            console.push(&raw[cut..]);
            assert_eq!(console.text(), "xyzwq\n", "cut at {cut}");
        }
    }

    #[test]
    fn a_marker_that_is_not_there_is_not_found() {
        let mut console = ConsoleText::new();
        console.push(b"DART-BOOT\x1b[2JOK DART-BOOT-O");
        assert!(!console.contains("DART-BOOT-OK"));
    }

    proptest! {
        #[test]
        fn text_without_escapes_is_kept(text in "[ -~\n]{0,200}") {
            let mut console = ConsoleText::new();
            console.push(text.as_bytes());
            prop_assert_eq!(console.text(), text);
        }

        #[test]
        fn any_bytes_are_accepted(raw in proptest::collection::vec(any::<u8>(), 0..500), cut in 0usize..500) {
            let cut = cut.min(raw.len());
            let mut whole = ConsoleText::new();
            whole.push(&raw);
            let mut split = ConsoleText::new();
            split.push(&raw[..cut]);
            split.push(&raw[cut..]);
            prop_assert_eq!(whole.text(), split.text());
        }
    }
}
