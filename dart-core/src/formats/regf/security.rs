//! The security descriptor of a new hive.
//!
//! Windows gives every key a self-relative `SECURITY_DESCRIPTOR` (stored
//! once per distinct descriptor in `sk` cells). A hive dart creates from
//! nothing gets one descriptor: owner Administrators (S-1-5-32-544), group
//! SYSTEM (S-1-5-18), a protected DACL granting `KEY_ALL_ACCESS`
//! (0xF003F) to SYSTEM and to Administrators, inherited by subkeys. Only
//! administrators can edit a BCD store on Windows, and that is what this
//! says. Stores made from a template keep the template's descriptors.

/// `SE_SELF_RELATIVE | SE_DACL_PROTECTED | SE_DACL_PRESENT`.
const CONTROL: u16 = 0x8000 | 0x1000 | 0x0004;
/// `KEY_ALL_ACCESS`.
const KEY_ALL_ACCESS: u32 = 0x000F_003F;
/// `CONTAINER_INHERIT_ACE`.
const CONTAINER_INHERIT: u8 = 0x02;

/// A SID in NT authority (5) with these sub-authorities.
fn nt_sid(sub: &[u32]) -> Vec<u8> {
    let mut s = vec![1, sub.len() as u8, 0, 0, 0, 0, 0, 5];
    for a in sub {
        s.extend(a.to_le_bytes());
    }
    s
}

/// The descriptor described in the module documentation.
pub(crate) fn default_descriptor() -> Vec<u8> {
    let system = nt_sid(&[18]);
    let admins = nt_sid(&[32, 544]);
    let mut aces = Vec::new();
    for sid in [&system, &admins] {
        let size = (8 + sid.len()) as u16;
        aces.push(0u8); // ACCESS_ALLOWED_ACE_TYPE
        aces.push(CONTAINER_INHERIT);
        aces.extend(size.to_le_bytes());
        aces.extend(KEY_ALL_ACCESS.to_le_bytes());
        aces.extend(sid);
    }
    let mut acl = vec![2, 0];
    acl.extend(((8 + aces.len()) as u16).to_le_bytes());
    acl.extend(2u16.to_le_bytes());
    acl.extend([0, 0]);
    acl.extend(aces);

    let owner = 20u32;
    let group = owner + admins.len() as u32;
    let dacl = group + system.len() as u32;
    let mut sd = vec![1, 0];
    sd.extend(CONTROL.to_le_bytes());
    sd.extend(owner.to_le_bytes());
    sd.extend(group.to_le_bytes());
    sd.extend(0u32.to_le_bytes());
    sd.extend(dacl.to_le_bytes());
    sd.extend(admins);
    sd.extend(system);
    sd.extend(acl);
    sd
}
