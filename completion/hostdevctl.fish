# fish completion for hostdevctl(1)
# SPDX-License-Identifier: LGPL-2.1-or-later

set -l nouns list show prepare release device iommu group status monitor help

function __hostdevctl_words
        commandline -opc | string match -v -- '-*'
end

function __hostdevctl_after -a noun verb
        set -l w (__hostdevctl_words)
        test (count $w) -ge 2; or return 1
        if test -z "$verb"
                test "$w[2]" = "$noun"; and test (count $w) -eq 2
        else if test "$noun" = device
                contains -- "$w[2]" $verb; or begin; test "$w[2]" = device; and contains -- "$w[3]" $verb; end
        else
                test "$w[2]" = "$noun"; and test (count $w) -ge 3; and contains -- "$w[3]" $verb
        end
end

complete -c hostdevctl -f
complete -c hostdevctl -n "not __fish_seen_subcommand_from $nouns" -a "$nouns"
complete -c hostdevctl -n "__hostdevctl_after device ''" -a 'list show prepare release'
complete -c hostdevctl -n "__hostdevctl_after iommu ''" -a 'list show'
complete -c hostdevctl -n "__hostdevctl_after group ''" -a 'list show create update delete prepare release rule'
complete -c hostdevctl -n "__hostdevctl_after device 'show prepare'" -a '(hostdevctl __complete devices 2>/dev/null)'
complete -c hostdevctl -n "__hostdevctl_after device release" -a '(hostdevctl __complete prepared-devices 2>/dev/null)'
complete -c hostdevctl -n "__hostdevctl_after iommu show" -a '(hostdevctl __complete iommu-groups 2>/dev/null)'
complete -c hostdevctl -n "__hostdevctl_after group 'show update delete prepare release'" -a '(hostdevctl __complete groups 2>/dev/null)'

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
complete -c hostdevctl -l all -d 'status: also the bridges'
