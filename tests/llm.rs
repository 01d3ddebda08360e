//! The optional language-model labeler against a local OpenAI-compatible mock server.
#![cfg(feature = "llm")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use clipscope::interpret::llm::{LlmConfig, label_heads};

/// Serves `n` chat completions answering "Colour.", recording each request.
fn serve(n: usize) -> (String, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    serve_answering(n, "Colour.\\n")
}

/// Serves `n` chat completions answering `answer` (JSON-escaped), recording each request.
fn serve_answering(
    n: usize,
    answer: &'static str,
) -> (String, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(vec![]));
    let log = seen.clone();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut head, mut len) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            log.lock()
                .unwrap()
                .push(format!("{head}{}", String::from_utf8_lossy(&body)));
            let reply = format!(
                r#"{{"choices":[{{"message":{{"role":"assistant","content":"{answer}"}}}}]}}"#
            );
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len()).unwrap();
        }
    });
    (url, seen, handle)
}

#[test]
fn labels_come_from_the_endpoint_and_are_cached() {
    let (url, seen, handle) = serve(2);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("llm.json");
    let cfg = LlmConfig {
        url,
        model: "test-model".into(),
        key: Some("secret".into()),
    };
    let heads = vec![
        (
            "L1H0".to_string(),
            vec!["a red car".to_string(), "a blue door".to_string()],
        ),
        ("L1H1".to_string(), vec!["a green sky".to_string()]),
    ];
    let labels = label_heads(&heads, &cfg, &cache).unwrap();
    assert_eq!(labels["L1H0"], "colour");
    assert_eq!(labels["L1H1"], "colour");
    handle.join().unwrap();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].starts_with("POST /v1/chat/completions"));
    assert!(
        requests[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer secret")
    );
    assert!(
        requests[0].contains("\"test-model\"") && requests[0].contains("a red car\\na blue door")
    );
    // Cached: no server this time, same answers.
    assert_eq!(label_heads(&heads, &cfg, &cache).unwrap(), labels);
    // A dead endpoint is one clear error.
    let dead = LlmConfig {
        url: "http://127.0.0.1:9/v1".into(),
        ..cfg
    };
    let err = label_heads(
        &[("L0H0".into(), vec!["x".into()])],
        &dead,
        &dir.path().join("other.json"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("LLM labeler"), "{err}");
}

#[test]
fn the_judge_gives_each_text_a_verdict_and_interpret_keeps_them() {
    use clipscope::interpret::llm::judge_heads;
    let (url, seen, handle) = serve_answering(1, "1. yes\\n2. no\\n");
    let dir = tempfile::tempdir().unwrap();
    let cfg = LlmConfig {
        url,
        model: "judge-model".into(),
        key: None,
    };
    let heads = vec![(
        "L1H0".to_string(),
        "color".to_string(),
        vec!["a red car".to_string(), "a dog".to_string()],
    )];
    let v = judge_heads(&heads, &cfg, &dir.path().join("c.json")).unwrap();
    assert_eq!(v["L1H0"], [true, false]);
    handle.join().unwrap();
    assert!(seen.lock().unwrap()[0].contains("Concept: color\\n1. a red car\\n2. a dog"));

    // End to end: `interpret --llm-url` labels and judges every head (two requests each) and
    // `report` gives the judge's consistency.
    let cache = dir.path().join("cache");
    let model = common::fixture("tiny-clip-hf");
    let images = model.join("images");
    common::index_in_cache(&cache, &model, &images, &["--layers", "last:1"]);
    let heads = 4;
    let (url, _, handle) = serve_answering(2 * heads, "yes\\nyes\\nno\\nyes\\nno\\n");
    common::run_in_cache(
        &cache,
        &[
            "interpret",
            "-q",
            "--model",
            model.to_str().unwrap(),
            "--llm-url",
            &url,
        ],
    );
    handle.join().unwrap();
    let out = common::run_in_cache(&cache, &["report", "--format", "json", "--layers", "all"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let llm = &r["consistency_llm"];
    assert_eq!(llm["judge"], "llm:gpt-4o-mini");
    // Every head: 3 of its 5 texts fit (the moderate band).
    assert_eq!(llm["heads"], heads);
    assert_eq!(llm["moderate"], 1.0);
}
