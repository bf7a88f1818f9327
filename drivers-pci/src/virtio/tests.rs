//! The virtio-net driver against the software model of the device.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;

use lamina_netbuf::Instant;
use lamina_netbuf::checksum;
use lamina_netdev::{ChecksumProto, ChecksumSet, Device, TxMeta, TxToken};

use super::model::{self, BAR_LEN, MAC, Model};
use super::net::{Config, VirtioNet, net_feature};
use super::{VirtioCaps, feature, status};
use crate::Error;
use crate::fake::FakeHal;
use crate::pci::{MemConfig, PciAddress};

const NOW: Instant = Instant::ZERO;
const ADDR: PciAddress = PciAddress::new(0, 0, 4, 0);

fn setup_with(
    config: Config,
    cfg: &mut MemConfig,
    tweak: impl FnOnce(&Model),
) -> (FakeHal, Rc<Model>, Result<VirtioNet<FakeHal>, Error>) {
    let hal = FakeHal::new();
    let model = Rc::new(Model::new(hal.clone()));
    tweak(&model);
    hal.add_model_bar(4, model.clone(), BAR_LEN);
    let dev = VirtioNet::probe(cfg, ADDR, hal.clone(), config);
    (hal, model, dev)
}

fn setup(config: Config) -> (FakeHal, Rc<Model>, VirtioNet<FakeHal>) {
    let (hal, model, dev) = setup_with(config, &mut Model::config_space(), |_| {});
    (hal, model, dev.expect("init"))
}

fn frame(seq: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&MAC);
    f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in f.iter_mut().enumerate().skip(14) {
        *b = (seq as usize * 13 + i) as u8;
    }
    f[14..18].copy_from_slice(&seq.to_be_bytes());
    f
}

fn send(dev: &mut VirtioNet<FakeHal>, f: &[u8]) -> bool {
    match dev.transmit(NOW) {
        Some(tx) => tx.consume(f.len(), |b| b.copy_from_slice(f)).is_ok(),
        None => false,
    }
}

fn drain(dev: &mut VirtioNet<FakeHal>) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    dev.poll_rx(NOW, usize::MAX, |f, _, _| got.push(f.to_vec()));
    got
}

#[test]
fn capabilities_are_found_in_config_space() {
    let caps = VirtioCaps::find(&mut Model::config_space(), ADDR).unwrap();
    assert_eq!(caps.common.bar, 4);
    assert_eq!(caps.notify.notify_off_multiplier, model::NOTIFY_MULT);
    assert_eq!(caps.isr.offset as usize, model::ISR);
    assert_eq!(caps.device.unwrap().offset as usize, model::DEVICE);
}

#[test]
fn probe_negotiates_features_and_reaches_driver_ok() {
    let (hal, model, dev) = setup(Config::default());
    let ok = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK;
    assert_eq!(dev.device_status(), ok);
    let st = model.st.borrow();
    assert_eq!(st.status, ok);
    // Everything offered and wanted; EVENT_IDX is offered but not taken.
    let want = feature::VERSION_1
        | net_feature::MAC
        | net_feature::STATUS
        | net_feature::MRG_RXBUF
        | net_feature::CSUM
        | net_feature::GUEST_CSUM;
    assert_eq!(st.accepted, want);
    assert_eq!(dev.features(), want);
    assert_eq!(dev.mac_address(), MAC);
    assert_eq!((st.queues[0].size, st.queues[1].size), (256, 256));
    assert_eq!(
        (
            st.queues[0].enable,
            st.queues[1].enable,
            st.queues[2].enable
        ),
        (1, 1, 0)
    );
    // Every receive buffer posted at once, with one notification.
    assert_eq!(st.notifications[0], 1);
    drop(st);
    assert!(dev.link_up());
    let caps = dev.capabilities();
    let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
    assert_eq!((caps.checksum.rx, caps.checksum.tx), (l4, l4));
    assert_eq!(hal.outstanding(), 4);
}

#[test]
fn device_without_version_1_is_refused_and_marked_failed() {
    let (hal, model, dev) = setup_with(Config::default(), &mut Model::config_space(), |m| {
        m.st.borrow_mut().offered &= !feature::VERSION_1;
    });
    assert!(matches!(dev, Err(Error::Features(_))));
    assert_ne!(model.st.borrow().status & status::FAILED, 0);
    assert_eq!(hal.outstanding(), 0);
}

#[test]
fn device_refusing_features_ok_is_an_error() {
    let (_, model, dev) = setup_with(Config::default(), &mut Model::config_space(), |m| {
        m.st.borrow_mut().refuse_features = true;
    });
    assert!(matches!(dev, Err(Error::Features(_))));
    assert_ne!(model.st.borrow().status & status::FAILED, 0);
}

#[test]
fn access_platform_is_accepted_when_the_device_requires_it() {
    let (_, model, dev) = setup_with(Config::default(), &mut Model::config_space(), |m| {
        m.st.borrow_mut().offered |= feature::ACCESS_PLATFORM;
    });
    let dev = dev.unwrap();
    assert_ne!(dev.features() & feature::ACCESS_PLATFORM, 0);
    assert_ne!(model.st.borrow().status & status::DRIVER_OK, 0);
}

#[test]
fn checksum_offload_off_negotiates_neither_csum_feature() {
    let (_, _, dev) = setup(Config::default().with_checksum_offload(false));
    assert_eq!(
        dev.features() & (net_feature::CSUM | net_feature::GUEST_CSUM),
        0
    );
    assert!(dev.capabilities().checksum.tx.is_empty());
}

#[test]
fn missing_or_misplaced_structures_are_errors_not_panics() {
    // No capability list at all.
    let mut bare = MemConfig::new(0x1af4, 0x1041);
    bare.set_bar_memory64(4, 0xfe00_0000, BAR_LEN as u64, true);
    let (_, _, dev) = setup_with(Config::default(), &mut bare, |_| {});
    assert!(matches!(dev, Err(Error::Missing(_))));
    // The common configuration placed beyond the end of the BAR.
    let mut cfg = Model::config_space();
    cfg.put32(0x40 + 8, BAR_LEN as u32 - 4);
    let (hal, _, dev) = setup_with(Config::default(), &mut cfg, |_| {});
    assert!(matches!(dev, Err(Error::OutOfBounds(_))));
    assert_eq!(hal.outstanding(), 0);
    // A notify multiplier that sends queue 1 outside the notify window.
    let mut cfg = Model::config_space();
    cfg.put32(0x7c + 16, 0x1000);
    let (hal, _, dev) = setup_with(Config::default(), &mut cfg, |_| {});
    assert!(matches!(dev, Err(Error::OutOfBounds(_))));
    assert_eq!(hal.outstanding(), 0, "queue 0 memory given back");
    // The wrong device.
    let mut other = MemConfig::new(0x8086, 0x100e);
    let (_, _, dev) = setup_with(Config::default(), &mut other, |_| {});
    assert_eq!(
        dev.unwrap_err(),
        Error::WrongDevice {
            vendor: 0x8086,
            device: 0x100e
        }
    );
}

#[test]
fn failed_allocations_give_back_everything() {
    for n in 0..4 {
        let hal = FakeHal::new();
        let model = Rc::new(Model::new(hal.clone()));
        hal.add_model_bar(4, model.clone(), BAR_LEN);
        hal.fail_allocations_after(n);
        let dev = VirtioNet::probe(
            &mut Model::config_space(),
            ADDR,
            hal.clone(),
            Config::default(),
        );
        assert!(matches!(dev, Err(Error::Hal(_))), "{n}");
        assert_eq!(hal.outstanding(), 0, "after {n} allocations");
    }
}

#[test]
fn queue_size_is_capped_by_config_and_device() {
    let (_, model, _dev) = setup_with(
        Config::default().with_queues(100, 1000),
        &mut Model::config_space(),
        |m| {
            m.st.borrow_mut().queues[1].max = 128;
        },
    );
    let st = model.st.borrow();
    assert_eq!((st.queues[0].size, st.queues[1].size), (64, 128));
}

#[test]
fn sends_frames_with_a_clean_header_through_wraparound() {
    let (hal, model, mut dev) = setup(Config::default().with_queues(8, 8));
    let mut want = Vec::new();
    for seq in 0..100u32 {
        let f = frame(seq, 60 + (seq as usize * 89) % 1455);
        assert!(send(&mut dev, &f), "{seq}");
        want.push(f);
        if seq % 4 == 3 {
            model.tick();
        }
    }
    model.tick();
    let out = model.take_tx();
    assert!(out.iter().all(|(h, _)| *h == [0u8; 12]));
    assert_eq!(out.into_iter().map(|(_, f)| f).collect::<Vec<_>>(), want);
    assert_eq!(dev.stats().tx_packets, 100);
    assert_eq!(model.st.borrow().notifications[1], 100);
    assert_eq!(hal.faults(), 0);
}

#[test]
fn full_transmit_queue_pushes_back_until_the_device_returns_buffers() {
    let (_, model, mut dev) = setup(Config::default().with_queues(8, 8));
    let mut n = 0;
    while send(&mut dev, &frame(n, 64)) {
        n += 1;
        assert!(n < 100);
    }
    assert_eq!(n, 8);
    assert_eq!(dev.tx_in_flight(), 8);
    model.tick();
    assert!(send(&mut dev, &frame(n, 64)));
    assert_eq!(dev.tx_in_flight(), 1);
}

#[test]
fn receives_injected_frames_in_order_through_wraparound() {
    let (hal, model, mut dev) = setup(Config::default().with_queues(8, 8));
    let mut want = Vec::new();
    let mut got = Vec::new();
    for seq in 0..200u32 {
        let f = frame(seq, 60 + (seq as usize * 37) % 1455);
        model.inject(&f);
        want.push(f);
        if seq % 6 == 5 {
            model.tick();
            got.extend(drain(&mut dev));
        }
    }
    for _ in 0..50 {
        model.tick();
        got.extend(drain(&mut dev));
    }
    assert_eq!(got, want);
    assert_eq!(dev.stats().rx_packets, 200);
    assert_eq!(hal.faults(), 0);
}

#[test]
fn receive_buffers_go_back_in_batches() {
    let (_, model, mut dev) = setup(Config::default().with_queues(64, 8));
    for seq in 0..10 {
        model.inject(&frame(seq, 64));
    }
    model.tick();
    let before = model.st.borrow().notifications[0];
    // Ten buffers recycled: no notification yet (batch of 32) ...
    dev.poll_rx(NOW, 10, |_, _, _| {});
    assert_eq!(model.st.borrow().notifications[0], before);
    // ... until the driver finds the queue empty, or flushes.
    assert_eq!(drain(&mut dev).len(), 0);
    assert_eq!(model.st.borrow().notifications[0], before + 1);
}

#[test]
fn bad_used_entries_are_counted_and_never_lent() {
    let (hal, model, mut dev) = setup(Config::default().with_queues(16, 8));
    {
        let mut st = model.st.borrow_mut();
        // Unknown id, too short for header + Ethernet, longer than the
        // buffer, a merged packet of 3 buffers (its 2 followers dropped).
        st.rx_used_override.push_back((99, 100, 1));
        st.rx_used_override.push_back((1, 12, 1));
        st.rx_used_override.push_back((2, 5000, 1));
        st.rx_used_override.push_back((3, 100, 3));
        st.rx_used_override.push_back((4, 100, 1));
        st.rx_used_override.push_back((5, 100, 1));
    }
    model.inject(&frame(7, 64));
    model.tick();
    assert_eq!(drain(&mut dev), vec![frame(7, 64)]);
    assert_eq!(dev.stats().rx_errors, 4);
    // Still working after a wrap of the ring.
    for seq in 0..40 {
        model.inject(&frame(seq, 100));
        model.tick();
        assert_eq!(drain(&mut dev), vec![frame(seq, 100)]);
    }
    assert_eq!(hal.faults(), 0);
}

#[test]
fn buffer_returned_twice_is_not_lent_twice() {
    let (_, model, mut dev) = setup(Config::default().with_queues(8, 8));
    model.inject(&frame(1, 64));
    model.tick();
    // Buffer 0 now holds frame 1; the device claims it a second time.
    model.st.borrow_mut().rx_used_override.push_back((0, 76, 1));
    model.tick();
    let mut got = Vec::new();
    let n = dev.poll_rx(NOW, 8, |f, _, _| got.push(f.to_vec()));
    assert_eq!(n, 1);
    assert_eq!(got, vec![frame(1, 64)]);
    assert_eq!(dev.stats().rx_errors, 1);
    for seq in 2..30 {
        model.inject(&frame(seq, 64));
        model.tick();
        assert_eq!(drain(&mut dev), vec![frame(seq, 64)]);
    }
}

#[test]
fn transmit_checksum_offload_sets_needs_csum_with_offsets() {
    let (_, model, mut dev) = setup(Config::default());
    let f = frame(1, 100);
    let mut tx = dev.transmit(NOW).unwrap();
    tx.set_meta(TxMeta::new().with_checksum_offload(
        ChecksumSet::of(ChecksumProto::Udp).with(ChecksumProto::Ipv4),
        14,
        34,
    ));
    tx.consume(f.len(), |b| b.copy_from_slice(&f)).unwrap();
    // Without offload requested, the header stays zero.
    assert!(send(&mut dev, &f));
    model.tick();
    let out = model.take_tx();
    let h = out[0].0;
    assert_eq!(h[0], 1, "NEEDS_CSUM");
    assert_eq!(u16::from_le_bytes([h[6], h[7]]), 34);
    assert_eq!(u16::from_le_bytes([h[8], h[9]]), 6);
    assert_eq!(out[1].0, [0; 12]);
}

#[test]
fn received_checksum_flags_are_reported_or_completed() {
    let (_, model, mut dev) = setup(Config::default());
    let mut valid = [0u8; 12];
    valid[0] = 2; // DATA_VALID
    model.inject_with_header(&frame(1, 80), valid);
    // NEEDS_CSUM: checksum from byte 34, field at +6, holding the partial
    // (pseudo-header) sum 0x1234.
    let mut partial = frame(2, 80);
    partial[40..42].copy_from_slice(&0x1234u16.to_be_bytes());
    let mut needs = [0u8; 12];
    needs[0] = 1;
    needs[6..8].copy_from_slice(&34u16.to_le_bytes());
    needs[8..10].copy_from_slice(&6u16.to_le_bytes());
    model.inject_with_header(&partial, needs);
    model.inject(&frame(3, 80));
    model.tick();
    let mut got = Vec::new();
    dev.poll_rx(NOW, 8, |f, meta, _| {
        got.push((f.to_vec(), meta.checksum_verified))
    });
    let l4 = ChecksumSet::of(ChecksumProto::Tcp).with(ChecksumProto::Udp);
    assert_eq!(got[0].1, l4);
    assert_eq!(got[1].1, l4);
    let mut expect = partial.clone();
    let c = checksum::checksum(&partial[34..]);
    expect[40..42].copy_from_slice(&c.to_be_bytes());
    assert_eq!(got[1].0, expect);
    assert_eq!(got[2].1, ChecksumSet::EMPTY);
}

#[test]
fn deferred_doorbell_notifies_once_per_flush() {
    let (_, model, mut dev) = setup(Config::default().with_deferred_tx_doorbell(true));
    for seq in 0..5 {
        assert!(send(&mut dev, &frame(seq, 64)));
    }
    assert_eq!(model.st.borrow().notifications[1], 0);
    dev.flush(NOW);
    assert_eq!(model.st.borrow().notifications[1], 1);
    model.tick();
    assert_eq!(model.take_tx().len(), 5);
}

#[test]
fn device_suppressing_notifications_gets_none() {
    let (_, model, mut dev) = setup(Config::default());
    model.st.borrow_mut().suppress_notify = true;
    assert!(send(&mut dev, &frame(0, 64)));
    model.tick(); // writes NO_NOTIFY into the used ring flags
    assert_eq!(model.st.borrow().notifications[1], 1);
    assert!(send(&mut dev, &frame(1, 64)));
    assert_eq!(model.st.borrow().notifications[1], 1);
    model.tick();
    assert_eq!(model.take_tx().len(), 2);
}

#[test]
fn reply_token_and_interrupt_acknowledgement() {
    let (_, model, mut dev) = setup(Config::default());
    model.inject(&frame(5, 300));
    model.tick();
    assert_eq!(dev.ack_interrupt() & 1, 1);
    assert_eq!(dev.ack_interrupt(), 0);
    let n = dev.poll_rx(NOW, 4, |f, _, reply| {
        let len = f.len();
        reply.consume(len, |o| o.copy_from_slice(f)).unwrap();
    });
    assert_eq!(n, 1);
    model.tick();
    assert_eq!(model.take_tx()[0].1, frame(5, 300));
}

#[test]
fn link_status_follows_the_device_configuration() {
    let (_, model, dev) = setup(Config::default());
    model.st.borrow_mut().link_up = false;
    assert!(!dev.link_up());
}

#[test]
fn dropping_the_driver_resets_the_device_and_frees_memory() {
    let (hal, model, mut dev) = setup(Config::default());
    assert!(send(&mut dev, &frame(0, 64)));
    let resets = model.st.borrow().resets;
    drop(dev);
    assert_eq!(model.st.borrow().resets, resets + 1);
    assert_eq!(model.st.borrow().status, 0);
    assert_eq!(hal.outstanding(), 0);
}
