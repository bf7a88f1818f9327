//! Real captures: TCP headers and options decoded by this crate agree with
//! tshark's decode (the `.tsv` beside each capture). The captures live
//! outside the repository; the tests skip with a message when they are
//! absent.

use std::net::Ipv4Addr;

use lamina_netbuf::Serializer;
use lamina_netdev::pcap::corpus::{self, Capture};
use lamina_tcp::TcpSegment;

/// The IPv4 datagram inside each frame: (source, destination, transport
/// bytes cut at the IPv4 total length).
type Datagram = (Ipv4Addr, Ipv4Addr, Vec<u8>);

fn ipv4_payloads(capture: &Capture) -> Vec<Option<Datagram>> {
    capture
        .frames
        .iter()
        .map(|f| f.ipv4().map(|d| (d.src, d.dst, d.transport.to_vec())))
        .collect()
}

fn opt_cell<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Compares every TCP field tshark decodes, frame by frame; returns the
/// number of TCP frames checked and how many rebuilt byte for byte.
fn compare(file: &str) -> Option<(usize, usize)> {
    let dir = corpus::dir()?;
    let (capture, decode) = corpus::open(&dir, file).expect("readable capture and decode");
    let packets = ipv4_payloads(&capture);
    assert_eq!(decode.len(), packets.len(), "{file}: frame count");
    let (mut checked, mut identical) = (0, 0);
    for (row, pkt) in decode.rows().zip(&packets) {
        if row.get("tcp.srcport").is_none() {
            continue;
        }
        let frame = row.get("frame.number").unwrap_or("");
        let (src, dst, l4) = pkt.as_ref().expect("an IPv4 datagram");
        let s = TcpSegment::parse(l4).unwrap_or_else(|e| panic!("{file} frame {frame}: {e}"));
        let cell = |name: &str| row.get(name).unwrap_or("");
        assert_eq!(
            s.src_port().to_string(),
            cell("tcp.srcport"),
            "frame {frame}"
        );
        assert_eq!(
            s.dst_port().to_string(),
            cell("tcp.dstport"),
            "frame {frame}"
        );
        assert_eq!(
            s.seq_number().to_string(),
            cell("tcp.seq_raw"),
            "frame {frame}"
        );
        assert_eq!(
            s.ack_number().to_string(),
            cell("tcp.ack_raw"),
            "frame {frame}"
        );
        assert_eq!(
            s.header_len().to_string(),
            cell("tcp.hdr_len"),
            "frame {frame}"
        );
        assert_eq!(
            format!("{:#06x}", s.flags()),
            cell("tcp.flags"),
            "frame {frame}"
        );
        assert_eq!(
            s.window_len().to_string(),
            cell("tcp.window_size_value"),
            "frame {frame}"
        );
        assert_eq!(
            opt_cell(s.mss()),
            cell("tcp.options.mss_val"),
            "frame {frame}"
        );
        assert_eq!(
            opt_cell(s.window_scale()),
            cell("tcp.options.wscale.shift"),
            "frame {frame}"
        );
        let sack_perm = if s.sack_permitted() { "0402" } else { "" };
        assert_eq!(sack_perm, cell("tcp.options.sack_perm"), "frame {frame}");
        assert_eq!(
            opt_cell(s.timestamps().map(|t| t.tsval)),
            cell("tcp.options.timestamp.tsval"),
            "frame {frame}"
        );
        let status = if s.checksum_ok(*src, *dst) { "1" } else { "0" };
        assert_eq!(status, cell("tcp.checksum.status"), "frame {frame}");

        // to_repr -> build -> parse is the identity on the repr; where the
        // sender used the same option layout, the bytes match too.
        let repr = s.to_repr();
        let builder = repr.builder(*src, *dst).expect("options fit");
        let rebuilt = s.payload().wrap_in(builder).serialize_vec(0).unwrap();
        let again = TcpSegment::parse_verified(rebuilt.as_slice(), *src, *dst).unwrap();
        assert_eq!(again.to_repr(), repr, "frame {frame}");
        if &builder.options()[..] == s.options() && status == "1" {
            assert_eq!(rebuilt.as_slice(), l4.as_slice(), "frame {frame}");
            identical += 1;
        }
        checked += 1;
    }
    eprintln!("{file}: {checked} TCP segments match tshark, {identical} rebuilt byte for byte");
    Some((checked, identical))
}

#[test]
fn tcp_headers_and_options_match_tshark_in_http_packets2() {
    let Some((checked, identical)) = compare("pcapplusplus__http-packets2.pcap") else {
        return;
    };
    assert_eq!(checked, 222);
    // Most segments carry NOP NOP TS, the layout the builder uses.
    assert!(identical > 150, "only {identical} rebuilt byte for byte");
}

#[test]
fn eight_lowest_flag_bits_match_tshark() {
    let Some((checked, _)) = compare("tcpdump__tcp_eight_lowest_weight_flags_set.pcap") else {
        return;
    };
    assert_eq!(checked, 1);
}
