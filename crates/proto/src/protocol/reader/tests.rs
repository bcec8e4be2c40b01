//! Tests of the frame reader (`super`): raw client frames in, events and errors out.

use super::*;

/// A masked client frame.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0xA1, 0xB2, 0xC3, 0xD4];
    let mut out = vec![(if fin { 0x80 } else { 0 }) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 65535 {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

#[derive(Debug, PartialEq)]
enum Ev {
    Msg(bool, Vec<u8>),
    Frag(bool, Vec<u8>, u64),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
}

fn run(bytes: &[u8], split: usize, limits: ReaderLimits) -> (Vec<Ev>, Result<(), ProtocolError>) {
    let mut r = FrameReader::new();
    let mut evs = Vec::new();
    let mut data = bytes.to_vec();
    let mut result = Ok(());
    for piece in data.chunks_mut(split.max(1)) {
        result = r.feed(piece, &limits, &mut |e| {
            evs.push(match e {
                ReaderEvent::Message { binary, data } => Ev::Msg(binary, data.to_vec()),
                ReaderEvent::Fragment { binary, data, remaining } => {
                    Ev::Frag(binary, data.to_vec(), remaining)
                }
                ReaderEvent::Ping(p) => Ev::Ping(p.to_vec()),
                ReaderEvent::Pong(p) => Ev::Pong(p.to_vec()),
                ReaderEvent::Close { code, reason } => Ev::Close(code, reason.to_vec()),
                ReaderEvent::FrameHead { .. } | ReaderEvent::FrameData { .. } => {
                    unreachable!("frame_events is off")
                }
            })
        });
        if result.is_err() {
            break;
        }
    }
    (evs, result)
}

fn every_split(bytes: &[u8], limits: ReaderLimits) -> (Vec<Ev>, Result<(), ProtocolError>) {
    let whole = run(bytes, bytes.len(), limits);
    for split in 1..bytes.len().min(40) {
        assert_eq!(run(bytes, split, limits), whole, "split {split}");
    }
    whole
}

#[test]
fn text_binary_empty_and_large() {
    let mut bytes = client_frame(true, 1, b"hello");
    bytes.extend(client_frame(true, 2, &[0, 1, 2]));
    bytes.extend(client_frame(true, 1, b""));
    let big: Vec<u8> = (0..70000u32).map(|i| i as u8).collect();
    bytes.extend(client_frame(true, 2, &big));
    let (evs, res) = run(&bytes, bytes.len(), ReaderLimits::default());
    assert_eq!(res, Ok(()));
    assert_eq!(
        evs,
        vec![
            Ev::Msg(false, b"hello".to_vec()),
            Ev::Msg(true, vec![0, 1, 2]),
            Ev::Msg(false, vec![]),
            Ev::Msg(true, big.clone())
        ]
    );
    assert_eq!(run(&bytes, 7, ReaderLimits::default()), (evs, Ok(())));
}

#[test]
fn fragmented_with_interleaved_ping() {
    let mut bytes = client_frame(false, 1, "héllo ".as_bytes());
    bytes.extend(client_frame(true, 9, b"p"));
    bytes.extend(client_frame(false, 0, b"w"));
    bytes.extend(client_frame(true, 0, "örld".as_bytes()));
    let (evs, res) = every_split(&bytes, ReaderLimits::default());
    assert_eq!(res, Ok(()));
    assert_eq!(evs, vec![Ev::Ping(b"p".to_vec()), Ev::Msg(false, "héllo wörld".as_bytes().to_vec())]);
}

#[test]
fn utf8_split_across_fragments_and_invalid() {
    let s = "€".as_bytes();
    let mut bytes = client_frame(false, 1, &s[..1]);
    bytes.extend(client_frame(true, 0, &s[1..]));
    assert_eq!(every_split(&bytes, ReaderLimits::default()).0, vec![Ev::Msg(false, s.to_vec())]);
    let bad = client_frame(true, 1, b"ab\xff");
    assert_eq!(every_split(&bad, ReaderLimits::default()).1, Err(ProtocolError::InvalidUtf8));
    // Truncated code point at the end of the message.
    let cut = client_frame(true, 1, &s[..2]);
    assert_eq!(run(&cut, 100, ReaderLimits::default()).1, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn close_frames() {
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"bye");
    let mut bytes = client_frame(true, 8, &p);
    bytes.extend(client_frame(true, 1, b"ignored after close"));
    let (evs, res) = every_split(&bytes, ReaderLimits::default());
    assert_eq!(res, Ok(()));
    assert_eq!(evs, vec![Ev::Close(1000, b"bye".to_vec())]);
    assert_eq!(
        run(&client_frame(true, 8, &[]), 100, ReaderLimits::default()).0,
        vec![Ev::Close(1005, vec![])]
    );
    assert_eq!(
        run(&client_frame(true, 8, &1004u16.to_be_bytes()), 100, ReaderLimits::default()).1,
        Err(ProtocolError::InvalidCloseCode(1004))
    );
    assert_eq!(
        run(&client_frame(true, 8, &[1]), 100, ReaderLimits::default()).1,
        Err(ProtocolError::InvalidClosePayload)
    );
}

#[test]
fn protocol_errors() {
    let d = ReaderLimits::default();
    assert_eq!(run(&client_frame(true, 0, b"x"), 100, d).1, Err(ProtocolError::UnexpectedContinuation));
    let mut two = client_frame(false, 1, b"a");
    two.extend(client_frame(true, 1, b"b"));
    assert_eq!(run(&two, 100, d).1, Err(ProtocolError::ExpectedContinuation(1)));
    assert_eq!(run(&[0x81, 0x01, b'x'], 100, d).1, Err(ProtocolError::UnmaskedFrame));
    assert_eq!(
        run(&client_frame(true, 9, &[0; 126]), 100, d).1,
        Err(ProtocolError::ControlFrameTooLong(126))
    );
    assert_eq!(run(&client_frame(true, 3, b""), 100, d).1, Err(ProtocolError::ReservedOpcode(3)));
}

#[test]
fn message_too_big_is_refused_at_the_header() {
    let limits = ReaderLimits { max_message_size: 10, ..Default::default() };
    // Only the header of an 11-byte frame: refused before any payload arrives.
    let frame = client_frame(true, 2, &[0; 11]);
    assert_eq!(run(&frame[..6], 100, limits).1, Err(ProtocolError::MessageTooBig));
    let mut frags = client_frame(false, 2, &[0; 6]);
    frags.extend(client_frame(true, 0, &[0; 5]));
    assert_eq!(run(&frags, 100, limits).1, Err(ProtocolError::MessageTooBig));
    assert_eq!(run(&client_frame(true, 2, &[7; 10]), 100, limits).0, vec![Ev::Msg(true, vec![7; 10])]);
}

#[test]
fn streaming_fragments() {
    let limits = ReaderLimits { fragment_size: Some(4), ..Default::default() };
    // Small message: one ordinary message event.
    assert_eq!(every_split(&client_frame(true, 2, b"abc"), limits).0, vec![Ev::Msg(true, b"abc".to_vec())]);
    // 10 bytes in one frame: 4 + 4 + 2.
    let (evs, _) = every_split(&client_frame(true, 2, b"0123456789"), limits);
    assert_eq!(
        evs,
        vec![
            Ev::Frag(true, b"0123".to_vec(), 6),
            Ev::Frag(true, b"4567".to_vec(), 2),
            Ev::Frag(true, b"89".to_vec(), 0)
        ]
    );
    // Exactly one fragment size: a message.
    assert_eq!(run(&client_frame(true, 1, b"abcd"), 100, limits).0, vec![Ev::Msg(false, b"abcd".to_vec())]);
}

#[test]
fn fragment_per_frame_hands_out_each_frame_as_it_ends() {
    let per_frame = ReaderLimits { fragment_size: Some(64), fragment_per_frame: true, ..Default::default() };
    let mut frags = client_frame(false, 2, b"ab");
    frags.extend(client_frame(false, 0, b""));
    frags.extend(client_frame(true, 0, b"cde"));
    // Each frame's bytes when the frame ends, however the reads split them (an empty
    // frame in the middle adds nothing); the last piece has remaining 0.
    assert_eq!(
        every_split(&frags, per_frame).0,
        vec![Ev::Frag(true, b"ab".to_vec(), 1), Ev::Frag(true, b"cde".to_vec(), 0)]
    );
    // Without it the same frames are one message (smaller than fragment_size).
    let limits = ReaderLimits { fragment_size: Some(64), ..Default::default() };
    assert_eq!(every_split(&frags, limits).0, vec![Ev::Msg(true, b"abcde".to_vec())]);
    // An empty first frame starts the message all the same; a one-frame message is unchanged.
    let mut empty_first = client_frame(false, 1, b"");
    empty_first.extend(client_frame(true, 0, b"xy"));
    assert_eq!(
        every_split(&empty_first, per_frame).0,
        vec![Ev::Frag(false, Vec::new(), 1), Ev::Frag(false, b"xy".to_vec(), 0)]
    );
    assert_eq!(
        every_split(&client_frame(true, 2, b"whole"), per_frame).0,
        vec![Ev::Msg(true, b"whole".to_vec())]
    );
}

#[test]
fn is_streaming_between_the_first_and_the_last_fragment() {
    let limits = ReaderLimits { fragment_size: Some(4), ..Default::default() };
    let mut r = FrameReader::new();
    let mut frame = client_frame(true, 2, b"0123456789");
    let (head, payload) = frame.split_at_mut(6);
    r.feed(head, &limits, &mut |_| {}).unwrap();
    assert!(!r.is_streaming(), "nothing handed out yet");
    let (first, rest) = payload.split_at_mut(5);
    r.feed(first, &limits, &mut |_| {}).unwrap();
    assert!(r.is_streaming(), "one fragment out, more to come");
    r.feed(rest, &limits, &mut |_| {}).unwrap();
    assert!(!r.is_streaming(), "the last fragment is out");
    // A message small enough for one event never streams.
    r.feed(&mut client_frame(false, 2, b"ab"), &limits, &mut |_| {}).unwrap();
    assert!(!r.is_streaming());
}

#[test]
fn too_many_fragments() {
    let limits = ReaderLimits { max_fragments: 4, ..Default::default() };
    let mut ok = client_frame(false, 1, b"a");
    for _ in 0..2 {
        ok.extend(client_frame(false, 0, b""));
    }
    ok.extend(client_frame(true, 0, b"b"));
    assert_eq!(run(&ok, 100, limits).0, vec![Ev::Msg(false, b"ab".to_vec())]);
    let mut bad = client_frame(false, 1, b"a");
    for _ in 0..4 {
        bad.extend(client_frame(false, 0, b""));
    }
    assert_eq!(run(&bad, 100, limits).1, Err(ProtocolError::TooManyFragments));
}

/// Feeds `bytes` to a client's reader, whole and at every split.
fn run_client(bytes: &[u8]) -> (Vec<Ev>, Result<(), ProtocolError>) {
    let go = |split: usize| {
        let mut r = FrameReader::with_role(Role::Client);
        let mut evs = Vec::new();
        let mut data = bytes.to_vec();
        let mut result = Ok(());
        for piece in data.chunks_mut(split.max(1)) {
            result = r.feed(piece, &ReaderLimits::default(), &mut |e| {
                evs.push(match e {
                    ReaderEvent::Message { binary, data } => Ev::Msg(binary, data.to_vec()),
                    ReaderEvent::Ping(p) => Ev::Ping(p.to_vec()),
                    ReaderEvent::Pong(p) => Ev::Pong(p.to_vec()),
                    ReaderEvent::Close { code, reason } => Ev::Close(code, reason.to_vec()),
                    ReaderEvent::Fragment { binary, data, remaining } => {
                        Ev::Frag(binary, data.to_vec(), remaining)
                    }
                    ReaderEvent::FrameHead { .. } | ReaderEvent::FrameData { .. } => {
                        unreachable!("frame_events is off")
                    }
                })
            });
            if result.is_err() {
                break;
            }
        }
        (evs, result)
    };
    let whole = go(bytes.len());
    for split in 1..bytes.len().min(40) {
        assert_eq!(go(split), whole, "split {split}");
    }
    whole
}

#[test]
fn client_role_reads_unmasked_frames() {
    use crate::protocol::frame::write_frame;
    let mut bytes = Vec::new();
    write_frame(&mut bytes, true, false, Opcode::Text, None, b"hello");
    write_frame(&mut bytes, false, false, Opcode::Binary, None, &[1, 2]);
    write_frame(&mut bytes, true, false, Opcode::Ping, None, b"p");
    write_frame(&mut bytes, true, false, Opcode::Continuation, None, &[3]);
    write_frame(&mut bytes, true, false, Opcode::Pong, None, b"q");
    let big: Vec<u8> = (0..70000u32).map(|i| (i * 31) as u8).collect();
    write_frame(&mut bytes, true, false, Opcode::Binary, None, &big);
    write_frame(&mut bytes, true, false, Opcode::Close, None, &[0x03, 0xE8, b'o', b'k']);
    let (evs, res) = run_client(&bytes);
    assert_eq!(res, Ok(()));
    assert_eq!(
        evs,
        vec![
            Ev::Msg(false, b"hello".to_vec()),
            Ev::Ping(b"p".to_vec()),
            Ev::Msg(true, vec![1, 2, 3]),
            Ev::Pong(b"q".to_vec()),
            Ev::Msg(true, big),
            Ev::Close(1000, b"ok".to_vec()),
        ]
    );
}

#[test]
fn client_role_refuses_masked_frames() {
    let err = run_client(&client_frame(true, 1, b"masked")).1.unwrap_err();
    assert_eq!(err, ProtocolError::MaskedFrame);
    assert_eq!(err.to_string(), "server frames must not be masked");
    assert_eq!(err.close_code(), 1002);
    // After a good frame, and for control frames too.
    let mut bytes = Vec::new();
    crate::protocol::frame::write_frame(&mut bytes, true, false, Opcode::Text, None, b"ok");
    bytes.extend(client_frame(true, 9, b""));
    assert_eq!(run_client(&bytes), (vec![Ev::Msg(false, b"ok".to_vec())], Err(ProtocolError::MaskedFrame)));
    // The server's rule is the mirror image.
    assert_eq!(run(&bytes, 100, ReaderLimits::default()).1, Err(ProtocolError::UnmaskedFrame));
    assert_eq!(FrameReader::new().role(), Role::Server);
}

#[test]
fn masked_heads_round_trip_through_the_server_reader() {
    use crate::protocol::frame::{encode_head, write_frame};
    // Every length class of the 14-byte head: 7-bit, 16-bit and 64-bit lengths, at their edges.
    for len in [0usize, 1, 125, 126, 127, 65535, 65536, 70001] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let key = [(len >> 8) as u8 | 1, 0x5A, len as u8, 0xC3];
        let mask = Role::Client.frame_mask(|| key);
        assert_eq!(mask, Some(key));
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = encode_head(&mut head, true, false, Opcode::Binary, len as u64, mask);
        let mut frame = Vec::new();
        write_frame(&mut frame, true, false, Opcode::Binary, mask, &payload);
        assert_eq!(frame[..n], head[..n], "len {len}");
        assert_eq!(frame.len(), n + len);
        let (evs, res) = run(&frame, frame.len(), ReaderLimits::default());
        assert_eq!(res, Ok(()), "len {len}");
        assert_eq!(evs, vec![Ev::Msg(true, payload.clone())], "len {len}");
        // Split inside the head and the payload.
        for split in [1, 3, 7, 13] {
            assert_eq!(run(&frame, split, ReaderLimits::default()).0, evs, "len {len} split {split}");
        }
    }
    assert_eq!(Role::Server.frame_mask(|| unreachable!()), None);
}

#[test]
fn length_with_top_bit_is_an_error() {
    let mut f = vec![0x82, 0xFF];
    f.extend_from_slice(&u64::MAX.to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    assert_eq!(run(&f, 100, ReaderLimits::default()).1, Err(ProtocolError::InvalidLength));
}

/// What a reader with `frame_events` reports, each frame's pieces joined (pieces
/// follow the reads): (fin, rsv1, opcode, mask, length), then the payload, and
/// the control events.
#[derive(Debug, PartialEq, Clone)]
enum FrameEv {
    Head(bool, bool, u8, Option<[u8; 4]>, u64),
    Payload(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16),
}

fn run_frames(bytes: &[u8], split: usize, limits: ReaderLimits) -> (Vec<FrameEv>, Result<(), ProtocolError>) {
    let limits = ReaderLimits { frame_events: true, ..limits };
    let mut r = FrameReader::new();
    let mut evs = Vec::new();
    let mut piece_of_frame: Vec<u8> = Vec::new();
    let mut data = bytes.to_vec();
    let mut result = Ok(());
    for piece in data.chunks_mut(split.max(1)) {
        result = r.feed(piece, &limits, &mut |e| match e {
            ReaderEvent::FrameHead { fin, rsv1, opcode, mask, length } => {
                evs.push(FrameEv::Head(fin, rsv1, opcode.as_u8(), mask, length))
            }
            ReaderEvent::FrameData { data, end } => {
                piece_of_frame.extend_from_slice(data);
                if end {
                    evs.push(FrameEv::Payload(std::mem::take(&mut piece_of_frame)));
                }
            }
            ReaderEvent::Ping(p) => evs.push(FrameEv::Ping(p.to_vec())),
            ReaderEvent::Close { code, .. } => evs.push(FrameEv::Close(code)),
            other => panic!("a message event with frame_events: {other:?}"),
        });
        if result.is_err() {
            break;
        }
    }
    (evs, result)
}

#[test]
fn frame_events_report_every_frame_and_assemble_nothing() {
    let key = [0xA1, 0xB2, 0xC3, 0xD4];
    let mut bytes = client_frame(false, 1, "h\u{e9}".as_bytes()); // é split across frames below
    bytes.truncate(bytes.len() - 1);
    bytes[1] = 0x80 | 2;
    bytes.extend(client_frame(true, 9, b"pi"));
    let tail = client_frame(true, 0, &[0xA9]);
    // The continuation carries the second byte of "é" (masked at offset 0 of its frame).
    bytes.extend(tail);
    bytes.extend(client_frame(true, 2, b""));
    let big: Vec<u8> = (0..70000u32).map(|i| i as u8).collect();
    bytes.extend(client_frame(true, 2, &big));
    bytes.extend(client_frame(true, 8, &[0x03, 0xE8]));
    let expected = vec![
        FrameEv::Head(false, false, 1, Some(key), 2),
        FrameEv::Payload("h\u{e9}".as_bytes()[..2].to_vec()),
        FrameEv::Head(true, false, 9, Some(key), 2),
        FrameEv::Payload(b"pi".to_vec()),
        FrameEv::Ping(b"pi".to_vec()),
        FrameEv::Head(true, false, 0, Some(key), 1),
        FrameEv::Payload(vec![0xA9]),
        FrameEv::Head(true, false, 2, Some(key), 0),
        FrameEv::Payload(vec![]),
        FrameEv::Head(true, false, 2, Some(key), 70000),
        FrameEv::Payload(big.clone()),
        FrameEv::Head(true, false, 8, Some(key), 2),
        FrameEv::Payload(vec![0x03, 0xE8]),
        FrameEv::Close(1000),
    ];
    for split in [bytes.len(), 1, 2, 3, 7, 1000] {
        assert_eq!(
            run_frames(&bytes, split, ReaderLimits::default()),
            (expected.clone(), Ok(())),
            "split {split}"
        );
    }
    // Nothing is kept between reads but a header or a control frame.
    let mut r = FrameReader::new();
    let limits = ReaderLimits { frame_events: true, ..Default::default() };
    let mut big_frame = client_frame(true, 2, &big);
    r.feed(&mut big_frame[..50000], &limits, &mut |_| {}).unwrap();
    assert_eq!(r.heap_bytes(), std::mem::size_of::<MessageInProgress>());
}

#[test]
fn frame_events_keep_the_checks() {
    let limits = ReaderLimits { max_message_size: 10, ..Default::default() };
    // The limit bounds each frame: two 8-byte frames pass, an 11-byte one does not.
    let mut ok = client_frame(false, 2, &[1; 8]);
    ok.extend(client_frame(true, 0, &[2; 8]));
    assert_eq!(run_frames(&ok, 5, limits).1, Ok(()));
    assert_eq!(run_frames(&client_frame(true, 2, &[0; 11]), 5, limits).1, Err(ProtocolError::MessageTooBig));
    // UTF-8 is checked across frames of a text message; the bad piece is not delivered.
    let mut bad = client_frame(false, 1, b"ok");
    bad.extend(client_frame(true, 0, &[0xFF]));
    let (evs, res) = run_frames(&bad, bad.len(), ReaderLimits::default());
    assert_eq!(res, Err(ProtocolError::InvalidUtf8));
    assert_eq!(evs.last(), Some(&FrameEv::Head(true, false, 0, Some([0xA1, 0xB2, 0xC3, 0xD4]), 1)));
    // An unmasked frame from a client, a reserved opcode: the same errors as for messages.
    assert_eq!(run_frames(&[0x81, 0x00], 2, ReaderLimits::default()).1, Err(ProtocolError::UnmaskedFrame));
    assert_eq!(
        run_frames(&[0x83, 0x80, 0, 0, 0, 0], 6, ReaderLimits::default()).1,
        Err(ProtocolError::ReservedOpcode(3))
    );
}

#[test]
fn a_message_in_one_read_keeps_no_state() {
    let limits = ReaderLimits::default();
    let mut r = FrameReader::new();
    let mut got = Vec::new();
    let mut on = |e: ReaderEvent<'_>| {
        if let ReaderEvent::Message { binary, data } = e {
            got.push((binary, data.to_vec()));
        }
    };
    let mut whole = client_frame(true, 1, b"hello");
    whole.extend(client_frame(true, 2, b""));
    r.feed(&mut whole, &limits, &mut on).unwrap();
    assert_eq!(r.heap_bytes(), 0);
    // Cut inside the payload: kept until the rest comes, then nothing again.
    let mut cut = client_frame(true, 2, &[7; 300]);
    let (head, tail) = cut.split_at_mut(100);
    r.feed(head, &limits, &mut on).unwrap();
    assert!(r.heap_bytes() > 0);
    r.feed(tail, &limits, &mut on).unwrap();
    assert_eq!(r.heap_bytes(), 0);
    assert_eq!(got, vec![(false, b"hello".to_vec()), (true, vec![]), (true, vec![7; 300])]);
    // Larger than fragment_size: streamed, not handed out whole.
    let streamed = ReaderLimits { fragment_size: Some(4), ..limits };
    let (evs, result) = every_split(&client_frame(true, 1, b"abcdefghij"), streamed);
    assert_eq!(result, Ok(()));
    assert_eq!(
        evs,
        vec![
            Ev::Frag(false, b"abcd".to_vec(), 6),
            Ev::Frag(false, b"efgh".to_vec(), 2),
            Ev::Frag(false, b"ij".to_vec(), 0)
        ]
    );
    // A continuation after a message in one frame has nothing to continue.
    let mut bytes = client_frame(true, 1, b"a");
    bytes.extend(client_frame(true, 0, b"b"));
    assert_eq!(
        every_split(&bytes, limits),
        (vec![Ev::Msg(false, b"a".to_vec())], Err(ProtocolError::UnexpectedContinuation))
    );
}

#[test]
fn first_two_bytes_decide_in_ws_order() {
    let d = ReaderLimits::default;
    // Out of place in its message comes before the mask bit (the frames are unmasked).
    assert_eq!(run(&[0x00, 0x00], 100, d()).1, Err(ProtocolError::UnexpectedContinuation));
    let mut inside = client_frame(false, 2, b"a");
    inside.extend_from_slice(&[0x81, 0x01, b'b']);
    assert_eq!(run(&inside, 100, d()).1, Err(ProtocolError::ExpectedContinuation(1)));
    assert_eq!(run(&[0x88, 0x01, 3], 100, d()).1, Err(ProtocolError::InvalidClosePayload));
    // An unmasked frame announcing 2^60 bytes: the mask bit before the length.
    assert_eq!(run(&[0x82, 0x7F, 0x10, 0, 0, 0, 0, 0, 0, 0], 100, d()).1, Err(ProtocolError::UnmaskedFrame));
    // Two bytes are enough: the rest of the header (length, mask key) is not waited for,
    // whether they come in one read or two.
    for split in [1, 2] {
        assert_eq!(run(&[0x80, 0x80], split, d()).1, Err(ProtocolError::UnexpectedContinuation));
        assert_eq!(run(&[0x89, 0xFE], split, d()).1, Err(ProtocolError::ControlFrameTooLong(126)));
    }
}
