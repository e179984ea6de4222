//! The shell git runs a helper line through: quoting a word for it (`setup`, doctor's fixes)
//! and splitting a configured line back into words as it would (the options people commands
//! read from the helper line). The two are one file so that what `setup` writes is what is
//! read back: `--host '[::1]:7999'` is the host `[::1]:7999`.

/// Quotes `text` as one word for a POSIX shell (left bare when it needs no quoting).
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:+=@,".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The words a POSIX shell makes of `line`: blanks separate words; `'…'` keeps everything;
/// `"…"` keeps everything but `\` before `\ $ " ` `; a `\` outside quotes keeps the next
/// character. No expansion is done (a helper line's options have none).
pub fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '\'' => {
                let word = word.get_or_insert_with(String::new);
                word.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                let word = word.get_or_insert_with(String::new);
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(next @ ('\\' | '$' | '"' | '`')) => word.push(next),
                            Some('\n') | None => {}
                            Some(other) => {
                                word.push('\\');
                                word.push(other);
                            }
                        },
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                let word = word.get_or_insert_with(String::new);
                if let Some(next) = chars.next().filter(|&c| c != '\n') {
                    word.push(next);
                }
            }
            other => word.get_or_insert_with(String::new).push(other),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_word_reads_back_as_itself() {
        for text in [
            "plain",
            "[::1]:7999",
            "/my tools/bin/x",
            "it's",
            "",
            "a\"b\\c$d",
        ] {
            assert_eq!(shell_words(&shell_quote(text)), [text], "{text:?}");
        }
    }

    #[test]
    fn a_line_splits_as_a_shell_splits_it() {
        assert_eq!(
            shell_words(r#"'/p q/x' --host "h:1"  --store\ file a''b"#),
            ["/p q/x", "--host", "h:1", "--store file", "ab"]
        );
        assert_eq!(shell_words("  "), Vec::<String>::new());
    }
}
