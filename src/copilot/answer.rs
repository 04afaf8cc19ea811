//! Answers: a question (or the last turn of a chat) is retrieved against the brand's
//! guidelines and answered with a citation for every claim, by the chat model from the
//! passages only, or extractively (the best passages, quoted) without one.

use super::*;

/// A chat question with at most this many terms is read as a follow-up of the previous one.
const ELLIPTICAL_TERMS: usize = 2;

impl CopilotService {
    pub async fn ask(&self, input: AskCopilotInput) -> AppResult<Answer> {
        self.answer(&input.brand_code, &input.question, &input.question)
            .await
    }

    /// A conversation: retrieval uses the last user message, then the end of the previous
    /// one for context (its last PREVIOUS_MESSAGE_TAIL_CHARS characters); the answer is
    /// grounded the same way as `ask`.
    pub async fn chat(&self, input: ChatInput) -> AppResult<Answer> {
        let Some(last) = input.messages.last() else {
            return Err(AppError::validation(
                "messages",
                "send at least one message",
            ));
        };
        if last.role != "user" {
            return Err(AppError::validation(
                "messages",
                "the last message must be the user's (role \"user\")",
            ));
        }
        if input.messages.len() > 50 {
            return Err(AppError::validation("messages", "send at most 50 messages"));
        }
        let previous = input
            .messages
            .iter()
            .rev()
            .skip(1)
            .find(|m| m.role == "user")
            .map(|m| m.content.as_str())
            .unwrap_or("");
        // The question first: if the query is cut to MAX_QUERY_CHARS, the context goes.
        let retrieval_query = format!(
            "{} {}",
            last.content,
            tail(previous, PREVIOUS_MESSAGE_TAIL_CHARS)
        );
        self.answer(&input.brand_code, &last.content, &retrieval_query)
            .await
    }

    async fn answer(
        &self,
        brand_code: &str,
        question: &str,
        retrieval_query: &str,
    ) -> AppResult<Answer> {
        // A chat's retrieval query carries the previous question; a plain ask's is the question.
        let in_chat = retrieval_query != question;
        let question = required_text(
            "question",
            question,
            "ask something, e.g. \"What is the minimum age?\"",
            4,
        )?;
        let brand = self.governance.get_brand(brand_code).await?;
        let (hits, retrieval, note) = self.retrieve(brand.id, retrieval_query, 5).await;
        // A chat's context helps ranking, but whether a passage answers is judged on the
        // question's own terms too: context the guidelines never mention must not make a
        // covered question look uncovered, and context they do mention must not make an
        // unrelated follow-up look covered. So in a chat, the relevance against question and
        // context counts for a passage that shares a term with the question, or when the
        // question is too short to stand alone ("and on TikTok?").
        let question_terms = index::query_terms(question);
        let relevant: Vec<(Passage, f32)> = hits
            .into_iter()
            .filter(|(p, r)| {
                let own = index::coverage(&question_terms, p.heading.as_deref(), &p.text);
                if !in_chat {
                    return r.max(own) >= 0.34;
                }
                own >= 0.34
                    || (*r >= 0.34 && (own > 0.0 || question_terms.len() <= ELLIPTICAL_TERMS))
            })
            .collect();
        if relevant.is_empty() {
            return Ok(Answer {
                answer: format!(
                    "{NOT_COVERED} Nothing in {}'s guidelines matches the question.",
                    brand.code
                ),
                found: false,
                mode: if self.chat_enabled() {
                    "llm"
                } else {
                    "extractive"
                }
                .into(),
                retrieval,
                note,
                citations: Vec::new(),
            });
        }
        let passages: Vec<Passage> = relevant.into_iter().map(|(p, _)| p).collect();
        if let Some(llm) = self.llm.as_ref().filter(|l| l.chat_model().is_some()) {
            let system = prompts::render(
                prompts::COPILOT_ANSWER,
                &[
                    ("brand", &format!("{} ({})", brand.name, brand.code)),
                    ("passages", &render_passages(&passages)),
                ],
            );
            match llm.chat(&system, question).await {
                Ok(text) => {
                    let text = text.trim().to_owned();
                    let found = !text.starts_with(NOT_COVERED);
                    // Keep only the passages the answer cites; a cited label we did not
                    // supply is dropped from the answer's sources, not trusted.
                    let cited: Vec<Passage> = passages
                        .iter()
                        .filter(|p| text.contains(&format!("[{}]", p.citation)))
                        .cloned()
                        .collect();
                    let (answer, citations) = if found && cited.is_empty() {
                        // The model forgot to cite: show the sources it was given.
                        (
                            format!(
                                "{text}\n\nSources: {}",
                                passages
                                    .iter()
                                    .map(|p| format!("[{}]", p.citation))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ),
                            passages,
                        )
                    } else {
                        (text, cited)
                    };
                    return Ok(Answer {
                        answer,
                        found,
                        mode: "llm".into(),
                        retrieval,
                        note,
                        citations,
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "chat completion failed; answering extractively");
                    let note = Some(format!(
                        "{}the language model failed, so this is an extractive answer",
                        note.map(|n| format!("{n}; ")).unwrap_or_default()
                    ));
                    return Ok(extractive(passages, retrieval, note));
                }
            }
        }
        Ok(extractive(passages, retrieval, note))
    }

    fn chat_enabled(&self) -> bool {
        self.llm.as_ref().is_some_and(|l| l.chat_model().is_some())
    }
}

/// The last `chars` characters of `text`.
fn tail(text: &str, chars: usize) -> &str {
    text.char_indices()
        .rev()
        .take(chars)
        .last()
        .map_or("", |(start, _)| &text[start..])
}

pub(super) fn render_passages(passages: &[Passage]) -> String {
    passages
        .iter()
        .map(|p| {
            format!(
                "[{}]{}\n{}",
                p.citation,
                p.heading
                    .as_ref()
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default(),
                p.text.replace("PASSAGES>>>", "PASSAGES>>")
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The best passages, quoted and cited.
fn extractive(passages: Vec<Passage>, retrieval: String, note: Option<String>) -> Answer {
    let top: Vec<Passage> = passages.into_iter().take(3).collect();
    let body = top
        .iter()
        .map(|p| {
            format!(
                "- {}\"{}\" [{}]",
                p.heading
                    .as_ref()
                    .map(|h| format!("{h}: "))
                    .unwrap_or_default(),
                p.text,
                p.citation
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Answer {
        answer: format!("The most relevant guideline passages:\n{body}"),
        found: true,
        mode: "extractive".into(),
        retrieval,
        note,
        citations: top,
    }
}

#[cfg(test)]
mod tests {
    use super::tail;

    #[test]
    fn tail_keeps_the_last_characters() {
        assert_eq!(tail("abcdé", 2), "dé");
        assert_eq!(tail("ab", 5), "ab");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("abc", 0), "");
    }
}
