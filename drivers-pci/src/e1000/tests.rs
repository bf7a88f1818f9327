//! The e1000 driver against the software model of the 82540EM.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use lamina_netbuf::Instant;
use lamina_netbuf::checksum;
use lamina_netdev::{ChecksumProto, ChecksumSet, Device, TxMeta, TxToken};

use super::model::{BAR_LEN, MAC, Model};
use super::regs::*;
use super::{Config, E1000};
use crate::Error;
use crate::fake::FakeHal;
use crate::pci::{self, Bar, BarKind, MemConfig, PciAddress};

const NOW: Instant = Instant::ZERO;

fn bar0() -> Bar {
    Bar {
        index: 0,
        kind: BarKind::Memory32 {
            prefetchable: false,
        },
        address: 0xfebc_0000,
        size: BAR_LEN as u64,
    }
}

fn setup_with(
    config: Config,
    tweak: impl FnOnce(&Model),
) -> (FakeHal, Rc<Model>, Result<E1000<FakeHal>, Error>) {
    let hal = FakeHal::new();
    let model = Rc::new(Model::new(hal.clone()));
    tweak(&model);
    hal.add_model_bar(0, model.clone(), BAR_LEN);
    let dev = E1000::new(hal.clone(), &bar0(), config);
    (hal, model, dev)
}

fn setup(config: Config) -> (FakeHal, Rc<Model>, E1000<FakeHal>) {
    let (hal, model, dev) = setup_with(config, |_| {});
    (hal, model, dev.expect("init"))
}

/// A frame of `len` bytes whose contents identify `seq`.
fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&MAC);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = (seq as usize * 7 + i) as u8;
    }
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

fn send(dev: &mut E1000<FakeHal>, f: &[u8]) -> bool {
    match dev.transmit(NOW) {
        Some(tx) => tx.consume(f.len(), |b| b.copy_from_slice(f)).is_ok(),
        None => false,
    }
}

fn drain(dev: &mut E1000<FakeHal>) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    dev.poll_rx(NOW, usize::MAX, |f, _, _| got.push(f.to_vec()));
    got
}

#[test]
fn init_resets_and_programs_rings_with_interrupts_masked() {
    let (hal, model, dev) = setup(Config::default().with_rings(64, 32));
    let st = model.st.borrow();
    assert_eq!(st.resets, 1);
    assert_eq!(st.rctl_writes, 2, "one RCTL=0 before reset, one to enable");
    drop(st);
    assert_eq!(dev.mac_address(), MAC);
    assert_eq!(model.reg(RDLEN), 64 * 16);
    assert_eq!(model.reg(RDT), 63);
    assert_eq!(model.reg(RDH), 0);
    assert_eq!(model.reg(TDLEN), 32 * 16);
    assert_eq!(model.reg(TDT), 0);
    assert_ne!(model.reg(RDBAL), 0);
    let rctl = model.reg(RCTL);
    assert_eq!(
        rctl & (RCTL_EN | RCTL_BAM | RCTL_SECRC),
        RCTL_EN | RCTL_BAM | RCTL_SECRC
    );
    assert_eq!(rctl & (RCTL_UPE | RCTL_MPE | RCTL_LPE), 0);
    assert_ne!(model.reg(TCTL) & TCTL_EN, 0);
    assert_eq!(model.reg(IMS), 0, "polled mode");
    assert_ne!(model.reg(CTRL) & CTRL_SLU, 0);
    assert_ne!(model.reg(RAH0) & RAH_AV, 0);
    assert_eq!(hal.outstanding(), 4);
    let link = dev.link_status();
    assert!(link.up && link.full_duplex);
    assert_eq!(link.speed_mbps, 1000);
}

#[test]
fn mac_comes_from_eeprom_when_the_receive_address_is_not_loaded() {
    let (_, _, dev) = setup_with(Config::default(), |m| {
        m.st.borrow_mut().autoload_mac = false
    });
    let dev = dev.unwrap();
    assert_eq!(dev.mac_address(), MAC);
}

#[test]
fn eeprom_that_never_answers_is_a_timeout_and_leaks_nothing() {
    let (hal, _, dev) = setup_with(Config::default(), |m| {
        let mut st = m.st.borrow_mut();
        st.autoload_mac = false;
        st.eerd_works = false;
    });
    assert_eq!(dev.unwrap_err(), Error::Timeout("EEPROM read"));
    assert_eq!(hal.outstanding(), 0);
}

#[test]
fn reset_waits_for_rst_to_clear_and_times_out_if_it_sticks() {
    let (_, model, dev) = setup_with(Config::default(), |m| m.st.borrow_mut().reset_reads = 5);
    assert!(dev.is_ok());
    assert_eq!(model.st.borrow().resets, 1);
    let (hal, _, dev) = setup_with(Config::default(), |m| m.st.borrow_mut().set_rst_stuck());
    assert_eq!(dev.unwrap_err(), Error::Timeout("e1000 reset"));
    assert_eq!(hal.outstanding(), 0);
}

#[test]
fn bad_ring_sizes_are_rejected() {
    for (rx, tx) in [(0, 8), (8, 4), (12, 8), (8, 8192)] {
        let (_, _, dev) = setup_with(Config::default().with_rings(rx, tx), |_| {});
        assert!(matches!(dev, Err(Error::InvalidConfig(_))), "{rx} {tx}");
    }
}

#[test]
fn failed_dma_allocation_frees_what_was_allocated() {
    for n in 0..4 {
        let hal = FakeHal::new();
        let model = Rc::new(Model::new(hal.clone()));
        hal.add_model_bar(0, model.clone(), BAR_LEN);
        hal.fail_allocations_after(n);
        let r = E1000::new(hal.clone(), &bar0(), Config::default());
        assert!(matches!(r, Err(Error::Hal(_))));
        assert_eq!(hal.outstanding(), 0, "after {n} allocations");
    }
}

#[test]
fn sends_frames_of_mixed_sizes_through_ring_wraparound() {
    let (hal, model, mut dev) = setup(Config::default().with_rings(8, 8));
    let mut want = Vec::new();
    for seq in 0..200u32 {
        let len = 60 + (seq as usize * 97) % (1514 - 60 + 1);
        let f = frame(seq, len);
        assert!(send(&mut dev, &f), "frame {seq}");
        want.push(f);
        if seq % 3 == 2 {
            model.tick();
        }
    }
    model.tick();
    assert_eq!(model.take_tx(), want);
    let s = dev.stats();
    assert_eq!(s.tx_packets, 200);
    assert_eq!(s.tx_bytes, want.iter().map(|f| f.len() as u64).sum::<u64>());
    assert_eq!(dev.hw_counters().good_tx_packets, 200);
    assert_eq!(hal.faults(), 0);
}

#[test]
fn full_transmit_ring_refuses_tokens_until_the_card_catches_up() {
    let (_, model, mut dev) = setup(Config::default().with_rings(8, 8));
    let mut sent = 0;
    while send(&mut dev, &frame(sent, 100)) {
        sent += 1;
        assert!(sent < 100, "never pushed back");
    }
    // Seven usable slots; a token needs room for a context descriptor too.
    assert_eq!(sent, 6);
    assert_eq!(dev.tx_in_flight(), 6);
    assert!(dev.transmit(NOW).is_none());
    model.tick();
    assert!(send(&mut dev, &frame(sent, 100)));
    model.tick();
    assert_eq!(model.take_tx().len(), 7);
    assert_eq!(dev.stats().tx_dropped, 0);
}

#[test]
fn oversized_transmit_is_refused_without_calling_the_writer() {
    let (_, _, mut dev) = setup(Config::default());
    let tx = dev.transmit(NOW).unwrap();
    let err = tx
        .consume(1515, |_| panic!("must not be called"))
        .unwrap_err();
    assert!(matches!(
        err,
        lamina_netdev::Error::FrameTooLong {
            len: 1515,
            max: 1514
        }
    ));
    assert_eq!(dev.stats().tx_errors, 1);
}

#[test]
fn receives_injected_frames_in_order_through_wraparound() {
    let (hal, model, mut dev) = setup(Config::default().with_rings(8, 8));
    let mut want = Vec::new();
    let mut got = Vec::new();
    for seq in 0..300u32 {
        let f = frame(seq, 60 + (seq as usize * 131) % 1455);
        model.inject(&f);
        want.push(f);
        if seq % 5 == 4 {
            model.tick();
            got.extend(drain(&mut dev));
        }
    }
    for _ in 0..10 {
        model.tick();
        got.extend(drain(&mut dev));
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    assert_eq!(dev.stats().rx_packets, 300);
    assert_eq!(dev.stats().rx_errors, 0);
    assert_eq!(hal.faults(), 0);
}

#[test]
fn full_receive_ring_holds_frames_until_descriptors_are_returned() {
    let (_, model, mut dev) = setup(Config::default().with_rings(8, 8));
    for seq in 0..20 {
        model.inject(&frame(seq, 64));
    }
    model.tick();
    // The card owns seven descriptors (RDT = RDH - 1).
    assert_eq!(model.st.borrow().rx_queue.len(), 13);
    assert!(dev.hw_counters().rx_no_buffer >= 1);
    let first = drain(&mut dev);
    assert_eq!(first.len(), 7);
    let mut all = first;
    for _ in 0..5 {
        model.tick();
        all.extend(drain(&mut dev));
    }
    let seqs: Vec<u32> = all
        .iter()
        .map(|f| u32::from_be_bytes(f[14..18].try_into().unwrap()))
        .collect();
    assert_eq!(seqs, (0..20).collect::<Vec<_>>());
}

#[test]
fn bad_receive_descriptors_are_counted_and_skipped_never_lent() {
    let (hal, model, mut dev) = setup(Config::default().with_rings(16, 8));
    {
        let mut st = model.st.borrow_mut();
        // Length beyond the buffer, zero length, a receive error, a CRC
        // error: none may reach the stack.
        st.rx_override
            .push_back((4000, RXD_STAT_DD | RXD_STAT_EOP, 0));
        st.rx_override.push_back((0, RXD_STAT_DD | RXD_STAT_EOP, 0));
        st.rx_override
            .push_back((64, RXD_STAT_DD | RXD_STAT_EOP, RXD_ERR_RXE));
        st.rx_override
            .push_back((64, RXD_STAT_DD | RXD_STAT_EOP, RXD_ERR_CE));
    }
    for seq in 0..6 {
        model.inject(&frame(seq, 64));
    }
    model.tick();
    let got = drain(&mut dev);
    assert_eq!(got, vec![frame(4, 64), frame(5, 64)]);
    assert_eq!(dev.stats().rx_errors, 4);
    // The ring keeps working after the bad descriptors were recycled.
    for seq in 6..40 {
        model.inject(&frame(seq, 64));
        model.tick();
        assert_eq!(drain(&mut dev), vec![frame(seq, 64)]);
    }
    assert_eq!(hal.faults(), 0);
}

#[test]
fn frame_spread_over_several_descriptors_is_dropped_whole() {
    let (_, model, mut dev) = setup(Config::default().with_rings(16, 8));
    model.inject(&frame(1, 3000));
    model.inject(&frame(2, 100));
    model.tick();
    assert_eq!(drain(&mut dev), vec![frame(2, 100)]);
    assert_eq!(dev.stats().rx_errors, 1);
}

#[test]
fn unconsumed_receive_token_still_returns_its_descriptor() {
    let (_, model, mut dev) = setup(Config::default().with_rings(8, 8));
    for round in 0..10u32 {
        for i in 0..7 {
            model.inject(&frame(round * 7 + i, 80));
        }
        model.tick();
        for _ in 0..7 {
            let (rx, _tx) = dev.receive(NOW).expect("frame");
            drop(rx);
        }
        assert!(dev.receive(NOW).is_none());
    }
    assert_eq!(dev.stats().rx_packets, 70);
}

#[test]
fn reply_token_from_receive_transmits_on_the_same_card() {
    let (_, model, mut dev) = setup(Config::default());
    for seq in 0..10 {
        model.inject(&frame(seq, 200));
    }
    model.tick();
    let n = dev.poll_rx(NOW, 4, |f, _, reply| {
        let len = f.len();
        reply.consume(len, |out| out.copy_from_slice(f)).unwrap();
    });
    assert_eq!(n, 4, "budget respected");
    model.tick();
    let out = model.take_tx();
    assert_eq!(out, (0..4).map(|s| frame(s, 200)).collect::<Vec<_>>());
}

fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = frame(0, 14 + 20 + 8 + payload.len());
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let ip = &mut f[14..34];
    ip.copy_from_slice(&[
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
    ]);
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let udp_len = (8 + payload.len()) as u16;
    f[34..42].copy_from_slice(&[0x30, 0x39, 0x00, 0x07, 0, 0, 0, 0]);
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    f[42..].copy_from_slice(payload);
    f
}

fn fill_checksums(f: &mut [u8]) {
    let c = checksum::checksum(&f[14..34]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
    let mut sum = checksum::ipv4_pseudo_header(
        core::net::Ipv4Addr::new(192, 0, 2, 1),
        core::net::Ipv4Addr::new(192, 0, 2, 2),
        17,
        (f.len() - 34) as u16,
    );
    sum.add_bytes(&f[34..]);
    let c = sum.finish();
    f[40..42].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn receive_checksum_offload_reports_exactly_what_the_card_verified() {
    let (_, model, mut dev) = setup(Config::default());
    let mut good = udp_frame(b"hello");
    fill_checksums(&mut good);
    let mut bad_ip = good.clone();
    bad_ip[24] ^= 0xff;
    let mut bad_udp = good.clone();
    bad_udp[42] ^= 1;
    for f in [&good, &bad_ip, &bad_udp] {
        model.inject(f);
    }
    model.inject(&frame(9, 64));
    model.tick();
    let mut metas = Vec::new();
    dev.poll_rx(NOW, 16, |_, meta, _| metas.push(meta.checksum_verified));
    let ip = ChecksumSet::of(ChecksumProto::Ipv4);
    let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
    assert_eq!(metas, vec![ip.union(l4), l4, ip, ChecksumSet::EMPTY]);
}

#[test]
fn receive_checksum_offload_off_reports_nothing() {
    let (_, model, mut dev) = setup(Config::default().with_checksum_offload(false));
    assert_eq!(model.reg(RXCSUM), 0);
    assert!(dev.capabilities().checksum.rx.is_empty());
    let mut good = udp_frame(b"hello");
    fill_checksums(&mut good);
    model.inject(&good);
    model.tick();
    dev.poll_rx(NOW, 16, |_, meta, _| {
        assert!(meta.checksum_verified.is_empty())
    });
}

#[test]
fn transmit_checksum_offload_uses_one_cached_context_descriptor() {
    let (_, model, mut dev) = setup(Config::default());
    let caps = dev.capabilities();
    assert!(caps.checksum.tx.contains(ChecksumProto::Udp));
    let mut want = Vec::new();
    for i in 0..5u8 {
        let mut f = udp_frame(&[i; 33]);
        fill_checksums(&mut f);
        want.push(f.clone());
        // What the stack hands over: zero IP checksum, pseudo-header sum
        // in the UDP field.
        f[24..26].fill(0);
        let ph = checksum::ipv4_pseudo_header(
            core::net::Ipv4Addr::new(192, 0, 2, 1),
            core::net::Ipv4Addr::new(192, 0, 2, 2),
            17,
            (f.len() - 34) as u16,
        );
        f[40..42].copy_from_slice(&ph.sum().to_be_bytes());
        let mut tx = dev.transmit(NOW).unwrap();
        let set = ChecksumSet::of(ChecksumProto::Ipv4).with(ChecksumProto::Udp);
        tx.set_meta(TxMeta::new().with_checksum_offload(set, 14, 34));
        tx.consume(f.len(), |b| b.copy_from_slice(&f)).unwrap();
    }
    model.tick();
    assert_eq!(model.take_tx(), want);
    assert_eq!(model.st.borrow().contexts_seen, 1);
}

#[test]
fn offsets_beyond_the_context_descriptor_fall_back_to_software_checksums() {
    let (_, model, mut dev) = setup(Config::default());
    // 300 bytes of padding before the IPv4 header: CSS cannot reach it.
    let mut f = vec![0u8; 300];
    let mut udp = udp_frame(b"far away");
    fill_checksums(&mut udp);
    let want_ip = udp[14..].to_vec();
    f.extend_from_slice(&udp[14..]);
    f[300 + 10..300 + 12].fill(0);
    let ph = checksum::ipv4_pseudo_header(
        core::net::Ipv4Addr::new(192, 0, 2, 1),
        core::net::Ipv4Addr::new(192, 0, 2, 2),
        17,
        16,
    );
    f[300 + 26..300 + 28].copy_from_slice(&ph.sum().to_be_bytes());
    let mut tx = dev.transmit(NOW).unwrap();
    let set = ChecksumSet::of(ChecksumProto::Ipv4).with(ChecksumProto::Udp);
    tx.set_meta(TxMeta::new().with_checksum_offload(set, 300, 320));
    tx.consume(f.len(), |b| b.copy_from_slice(&f)).unwrap();
    model.tick();
    let out = model.take_tx();
    assert_eq!(out[0][300..], want_ip[..]);
    assert_eq!(model.st.borrow().contexts_seen, 0);
}

#[test]
fn hardware_counters_accumulate_and_fold_into_stats() {
    let (_, model, mut dev) = setup(Config::default());
    for seq in 0..5 {
        assert!(send(&mut dev, &frame(seq, 100)));
    }
    model.tick();
    model.set_reg(MPC, 3);
    model.set_reg(CRCERRS, 2);
    let hw = dev.hw_counters();
    assert_eq!(hw.good_tx_packets, 5);
    assert_eq!(hw.good_tx_octets, 5 * 104);
    // Clear-on-read: reading again adds nothing, totals stay.
    assert_eq!(dev.hw_counters().good_tx_packets, 5);
    let s = dev.stats();
    assert_eq!((s.rx_dropped, s.rx_errors), (3, 2));
}

#[test]
fn interrupt_causes_are_latched_and_cleared_by_reading() {
    let (_, model, mut dev) = setup(Config::default());
    assert_eq!(dev.interrupt_causes().0, 0);
    assert!(send(&mut dev, &frame(0, 64)));
    model.inject(&frame(1, 64));
    model.tick();
    let c = dev.interrupt_causes();
    assert!(c.tx() && c.rx() && !c.link());
    assert_eq!(dev.interrupt_causes().0, 0);
    dev.enable_interrupts(super::InterruptCauses::DEFAULT);
    assert_eq!(dev.interrupt_mask(), super::InterruptCauses::DEFAULT);
    dev.disable_interrupts();
    assert_eq!(dev.interrupt_mask(), 0);
}

#[test]
fn promiscuous_and_multicast_filters_program_rctl_and_mta() {
    let (_, model, mut dev) = setup(Config::default());
    dev.set_promiscuous(true);
    assert_eq!(model.reg(RCTL) & (RCTL_UPE | RCTL_MPE), RCTL_UPE | RCTL_MPE);
    let writes = model.st.borrow().rctl_writes;
    dev.set_promiscuous(true);
    assert_eq!(
        model.st.borrow().rctl_writes,
        writes,
        "no needless RCTL write"
    );
    dev.set_promiscuous(false);
    assert_eq!(model.reg(RCTL) & (RCTL_UPE | RCTL_MPE), 0);
    dev.set_all_multicast(true);
    assert_eq!(model.reg(RCTL) & (RCTL_UPE | RCTL_MPE), RCTL_MPE);
    // 01:00:5e:00:00:01 hashes (bits 47:36) to 0x010: MTA[0] bit 16.
    dev.add_multicast([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]);
    assert_eq!(model.reg(MTA), 1 << 16);
    // 33:33:00:00:00:fb -> ((0x00 >> 4) | 0xfb << 4) = 0xfb0: MTA[125] bit 16.
    dev.add_multicast([0x33, 0x33, 0, 0, 0, 0xfb]);
    assert_eq!(model.reg(MTA + 4 * 125), 1 << 16);
    dev.clear_multicast();
    assert_eq!(model.reg(MTA), 0);
    let (_, model, _dev) = setup(Config::default().with_promiscuous(true));
    assert_eq!(model.reg(RCTL) & RCTL_UPE, RCTL_UPE);
}

#[test]
fn deferred_doorbell_rings_on_flush() {
    let (_, model, mut dev) = setup(Config::default().with_deferred_tx_doorbell(true));
    for seq in 0..3 {
        assert!(send(&mut dev, &frame(seq, 64)));
    }
    model.tick();
    assert!(model.take_tx().is_empty(), "tail not yet written");
    dev.flush(NOW);
    model.tick();
    assert_eq!(model.take_tx().len(), 3);
}

#[test]
fn dropping_the_driver_resets_the_card_and_frees_all_dma_memory() {
    let (hal, model, mut dev) = setup(Config::default());
    assert!(send(&mut dev, &frame(0, 64)));
    drop(dev);
    assert_eq!(model.st.borrow().resets, 2);
    assert_eq!(model.reg(RDLEN), 0);
    assert_eq!(hal.outstanding(), 0);
    // Ticking the reset card touches no memory.
    model.tick();
    assert_eq!(hal.faults(), 0);
}

#[test]
fn probe_checks_ids_and_enables_bus_mastering() {
    let addr = PciAddress::new(0, 0, 3, 0);
    let mut cfg = MemConfig::new(0x8086, 0x100e);
    cfg.set_bar_memory32(0, 0xfebc_0000, BAR_LEN as u32, false);
    let hal = FakeHal::new();
    let model = Rc::new(Model::new(hal.clone()));
    hal.add_model_bar(0, model.clone(), BAR_LEN);
    let dev = E1000::probe(&mut cfg, addr, hal.clone(), Config::default()).unwrap();
    assert_eq!(dev.mac_address(), MAC);
    let cmd = crate::pci::ConfigAccess::read16(&mut cfg, addr, pci::regs::COMMAND);
    assert_eq!(cmd & 0x6, 0x6);
    drop(dev);
    let mut other = MemConfig::new(0x1af4, 0x1041);
    let r = E1000::probe(&mut other, addr, hal.clone(), Config::default());
    assert_eq!(
        r.unwrap_err(),
        Error::WrongDevice {
            vendor: 0x1af4,
            device: 0x1041
        }
    );
    let mut io_only = MemConfig::new(0x8086, 0x100e);
    io_only.set_bar_io(0, 0xc000, 64);
    let r = E1000::probe(&mut io_only, addr, hal, Config::default());
    assert_eq!(r.unwrap_err(), Error::Missing("memory BAR 0"));
}

#[test]
fn link_down_is_reported() {
    let (_, model, dev) = setup(Config::default());
    model.st.borrow_mut().link_up = false;
    assert!(!dev.link_status().up);
}
