# fish completion for hostdevctl(1)
# SPDX-License-Identifier: LGPL-2.1-or-later

set -l nouns list show prepare release device iommu group sriov mdev usb claim claims unclaim tenant status monitor help

function __hostdevctl_words
        commandline -opc | string match -v -- '-*'
end

# "hostdevctl NOUN" and nothing after it yet.
function __hostdevctl_noun_only -a noun
        set -l w (__hostdevctl_words)
        test (count $w) -eq 2; and test "$w[2]" = "$noun"
end

# "hostdevctl NOUN VERB ..." with VERB one of the rest of the arguments;
# device verbs also without the noun.
function __hostdevctl_verb -a noun
        set -l verbs $argv[2..-1]
        set -l w (__hostdevctl_words)
        if test "$noun" = device; and test (count $w) -ge 2; and contains -- "$w[2]" $verbs
                return 0
        end
        test (count $w) -ge 3; and test "$w[2]" = "$noun"; and contains -- "$w[3]" $verbs
end

complete -c hostdevctl -f
complete -c hostdevctl -n "not __fish_seen_subcommand_from $nouns" -a "$nouns"
complete -c hostdevctl -n '__hostdevctl_noun_only device' -a 'list show prepare release'
complete -c hostdevctl -n '__hostdevctl_noun_only iommu' -a 'list show'
complete -c hostdevctl -n '__hostdevctl_noun_only sriov' -a 'show set-vfs set-vf'
complete -c hostdevctl -n '__hostdevctl_verb sriov show set-vfs set-vf' -a '(hostdevctl __complete devices 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_verb sriov set-vf' -a 'mac= vlan= qos= trust= spoofchk= link-state= max-tx-rate= min-tx-rate= persist='
complete -c hostdevctl -n '__hostdevctl_noun_only group' -a 'list show create update delete prepare release rule'
complete -c hostdevctl -n '__hostdevctl_noun_only mdev' -a 'types list create remove import'
complete -c hostdevctl -n '__hostdevctl_verb device show prepare' -a '(hostdevctl __complete devices 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_verb device release' -a '(hostdevctl __complete prepared-devices 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_verb iommu show' -a '(hostdevctl __complete iommu-groups 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_verb group show update delete prepare release' -a '(hostdevctl __complete groups 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_noun_only claim' -a 'list show release (hostdevctl __complete groups 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_verb claim show release' -a '(hostdevctl __complete claims 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_noun_only unclaim' -a '(hostdevctl __complete claims 2>/dev/null)'
complete -c hostdevctl -n '__hostdevctl_noun_only tenant' -a 'assign return'
complete -c hostdevctl -n '__hostdevctl_verb tenant assign return' -a '(hostdevctl __complete groups 2>/dev/null)'

complete -c hostdevctl -s h -l help -d 'Show help'
complete -c hostdevctl -l version -d 'Show package version'
complete -c hostdevctl -s j -l json -d 'Print JSON'
complete -c hostdevctl -l no-legend -d 'No table header'
complete -c hostdevctl -l no-ask-password -d 'Do not ask for a password'
complete -c hostdevctl -l dry-run -d 'Show the plan, change nothing'
complete -c hostdevctl -l override-critical -d 'Also devices the host needs'
complete -c hostdevctl -l type -x -a 'pci usb sriov-nic vgpu' -d 'Resource group type'
complete -c hostdevctl -l rule -x -d 'FIELD=VALUE[,FIELD=VALUE...]'
complete -c hostdevctl -l description -x -d 'Description'
complete -c hostdevctl -l class -x -a 'gpu nic usb' -d 'Icon hint'
complete -c hostdevctl -l name -x -d 'New name'
complete -c hostdevctl -l include-companions -d 'Add the IOMMU group companions'
complete -c hostdevctl -l uuid -x -d 'UUID of the mediated device to create'
complete -c hostdevctl -l all -d 'status: also the bridges'
complete -c hostdevctl -l no-autoprobe -d 'sriov set-vfs: new VFs get no driver'
complete -c hostdevctl -l consumer -x -d 'claim: who takes the devices'
complete -c hostdevctl -l count -x -d 'claim, tenant assign: how many members'
complete -c hostdevctl -l device -x -a '(hostdevctl __complete devices 2>/dev/null)' -d 'claim, tenant assign: this member'
complete -c hostdevctl -l numa -x -d 'claim: NUMA node first'
complete -c hostdevctl -l numa-strict -d 'claim: only the --numa node'
complete -c hostdevctl -l lease-pid -x -d 'claim: release when PID exits'
complete -c hostdevctl -l no-prepare -d 'claim: leave the drivers alone'
complete -c hostdevctl -l format -x -a 'text libvirt qemu json' -d 'claim, claim show: output format'
complete -c hostdevctl -l mac -x -d 'claim: the VF MAC address'
complete -c hostdevctl -l vlan -x -d 'claim: the VF VLAN'
