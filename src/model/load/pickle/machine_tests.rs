//! The pickle machine on hand-written opcode streams: what it accepts and what it refuses.

use super::*;

#[test]
fn refuses_foreign_globals_and_code_opcodes() {
    let m = || Machine::default();
    let e = m().run(b"\x80\x02cposix\nsystem\nq\x00.").unwrap_err();
    assert!(e.contains("`posix.system`"), "{e}");
    let e = m().run(b"\x8c\x02os\x8c\x06system\x93.").unwrap_err();
    assert!(e.contains("`os.system`"), "{e}");
    let e = m().run(b"(i__builtin__\neval\n.").unwrap_err();
    assert!(e.contains("opcode 0x69"), "{e}");
    assert!(
        m().run(b"X\xff\xff\xff\x7fab")
            .unwrap_err()
            .contains("ends inside")
    );
    assert!(m().run(b"h\x05.").unwrap_err().contains("memo"));
    assert!(m().run(b"").is_err());
    // Shared memo references are not copied: 2^40 references in a few hundred bytes.
    let mut bomb = b"]q\x00".to_vec();
    for _ in 0..40 {
        bomb.extend_from_slice(b"h\x00h\x00\x86q\x00");
    }
    bomb.push(b'.');
    assert!(matches!(m().run(&bomb), Ok(V::Tuple(_))));
}
