//! The optional language-model labeler against a local OpenAI-compatible mock server.
#![cfg(feature = "llm")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use clipscope::interpret::llm::{LlmConfig, label_heads};

/// Serves `n` chat completions answering "Colour.", recording each request.
fn serve(n: usize) -> (String, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
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
            let reply = r#"{"choices":[{"message":{"role":"assistant","content":"Colour.\n"}}]}"#;
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
