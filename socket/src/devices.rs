//! Sets of devices an [`Interface`](crate::Interface) polls.
//!
//! [`Device`] has generic associated token types, so it cannot be a trait
//! object; a set of devices of different types (a TAP and a loopback) is
//! reached through a visitor instead: the interface hands a
//! [`DeviceVisitor`] to [`DeviceSet::visit`], which calls it with the
//! device at an index, typed.
//!
//! Implemented for one device (`&mut D`), a slice of devices of one type
//! (`&mut [D]`, so arrays and `Vec`s through `&mut v[..]`), and tuples of
//! two to four devices of any types (each element usually `&mut D`).
//! The index of a device in its set is its
//! [`IfaceId`](lamina_ipv4::IfaceId) in the interface.

use lamina_netdev::Device;

/// Code run on one device of a [`DeviceSet`], whatever its type.
pub trait DeviceVisitor {
    /// What a visit returns.
    type Output;
    /// Runs on the device.
    fn visit<D: Device>(&mut self, device: &mut D) -> Self::Output;
}

/// An ordered set of devices.
pub trait DeviceSet {
    /// How many devices the set holds.
    fn len(&self) -> usize;
    /// Whether the set is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Runs `visitor` on the device at `index`; `None` if there is none.
    fn visit<V: DeviceVisitor>(&mut self, index: usize, visitor: &mut V) -> Option<V::Output>;
}

impl<D: Device> DeviceSet for &mut D {
    fn len(&self) -> usize {
        1
    }
    fn visit<V: DeviceVisitor>(&mut self, index: usize, visitor: &mut V) -> Option<V::Output> {
        (index == 0).then(|| visitor.visit(&mut **self))
    }
}

impl<D: Device> DeviceSet for &mut [D] {
    fn len(&self) -> usize {
        <[D]>::len(self)
    }
    fn visit<V: DeviceVisitor>(&mut self, index: usize, visitor: &mut V) -> Option<V::Output> {
        self.get_mut(index).map(|d| visitor.visit(d))
    }
}

macro_rules! tuple_set {
    ($n:expr; $($t:ident $i:tt),+) => {
        impl<$($t: Device),+> DeviceSet for ($($t,)+) {
            fn len(&self) -> usize {
                $n
            }
            fn visit<V: DeviceVisitor>(&mut self, index: usize, visitor: &mut V) -> Option<V::Output> {
                match index {
                    $($i => Some(visitor.visit(&mut self.$i)),)+
                    _ => None,
                }
            }
        }
    };
}

tuple_set!(2; A 0, B 1);
tuple_set!(3; A 0, B 1, C 2);
tuple_set!(4; A 0, B 1, C 2, E 3);

/// A visitor that asks a device for its capabilities.
#[derive(Debug)]
pub(crate) struct CapsVisitor;

impl DeviceVisitor for CapsVisitor {
    type Output = lamina_netdev::Capabilities;
    fn visit<D: Device>(&mut self, device: &mut D) -> Self::Output {
        device.capabilities()
    }
}

/// A visitor that asks a device for its next timer.
#[derive(Debug)]
pub(crate) struct PollAtVisitor;

impl DeviceVisitor for PollAtVisitor {
    type Output = Option<lamina_netbuf::Instant>;
    fn visit<D: Device>(&mut self, device: &mut D) -> Self::Output {
        device.poll_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamina_netdev::{Capabilities, LinkConfig, Loopback, Medium, wire};

    /// Visits devices of different types in one set, by index.
    #[test]
    fn a_tuple_holds_devices_of_different_types() {
        let mut lo = Loopback::new(Capabilities::new(Medium::Ip, 65535), 4);
        let (mut port, _other) = wire(LinkConfig::new().with_mtu(1400));
        let mut set = (&mut lo, &mut port);
        assert_eq!(DeviceSet::len(&set), 2);
        assert_eq!(set.visit(0, &mut CapsVisitor).map(|c| c.mtu), Some(65535));
        assert_eq!(set.visit(1, &mut CapsVisitor).map(|c| c.mtu), Some(1400));
        assert!(set.visit(2, &mut CapsVisitor).is_none());
    }

    #[test]
    fn a_single_device_and_a_slice_are_sets() {
        let mut lo = Loopback::default();
        let mut one = &mut lo;
        assert_eq!(DeviceSet::len(&one), 1);
        assert!(one.visit(0, &mut PollAtVisitor).is_some());
        assert!(one.visit(1, &mut PollAtVisitor).is_none());
        let mut many = [
            Loopback::default(),
            Loopback::default(),
            Loopback::default(),
        ];
        let mut slice = &mut many[..];
        assert_eq!(DeviceSet::len(&slice), 3);
        assert!(slice.visit(2, &mut CapsVisitor).is_some());
    }
}
