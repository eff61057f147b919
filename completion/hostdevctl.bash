# bash completion for hostdevctl(1)                 -*- shell-script -*-
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Commands and options from fixed lists; addresses, IOMMU group numbers
# resource group names and claim ids from the running hostdevd through
# "hostdevctl __complete KIND", which prints nothing, quickly, when the
# daemon is not there.

__hostdevctl_live() {
        local cmd=${COMP_WORDS[0]:-hostdevctl}
        "$cmd" __complete "$1" 2>/dev/null
}

# Device addresses; with the domain left out when the word has none, as
# admins type them ("01:" completes to 01:00.0, 01:00.1).
__hostdevctl_devices() {
        local kind=$1 cur=$2 a
        while read -r a; do
                if [[ $cur != *:*:* && $a == 0000:* && ${a#0000:} == "$cur"* ]]; then
                        printf '%s\n' "${a#0000:}"
                elif [[ $a == "$cur"* ]]; then
                        printf '%s\n' "$a"
                fi
        done < <(__hostdevctl_live "$kind")
}

_hostdevctl() {
        local cur prev i word noun= verb= sub= n_args=0
        local commands='list show prepare release device iommu group sriov mdev usb claim claims unclaim tenant
                        status monitor help'
        local options='--help --version --json --no-legend --no-ask-password --dry-run
                       --override-critical --type= --rule= --description= --class= --name=
                       --include-companions --all --no-autoprobe --uuid= --consumer= --count=
                       --device= --numa= --numa-strict --lease-pid= --no-prepare --format=
                       --mac= --vlan='

        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        # With bash-completion loaded, take "01:00" whole despite ':' in COMP_WORDBREAKS.
        if declare -F _get_comp_words_by_ref >/dev/null; then
                _get_comp_words_by_ref -n := cur prev
        fi

        # What is on the line before the word: noun, verb, sub-verb, argument count.
        for ((i = 1; i < COMP_CWORD; i++)); do
                word=${COMP_WORDS[i]}
                [[ $word == -* ]] && continue
                if [[ -z $noun ]]; then
                        case $word in
                        device|iommu|group|sriov|mdev|claim|tenant) noun=$word ;;
                        *) noun=device; verb=$word ;;
                        esac
                elif [[ -z $verb ]]; then
                        verb=$word
                elif [[ $noun == group && $verb == rule && -z $sub ]]; then
                        sub=$word
                else
                        ((n_args++))
                fi
        done

        COMPREPLY=()
        if [[ $cur == --type=* ]]; then
                COMPREPLY=($(compgen -P --type= -W 'pci usb sriov-nic vgpu' -- "${cur#--type=}"))
                return 0
        fi
        if [[ $cur == --format=* ]]; then
                COMPREPLY=($(compgen -P --format= -W 'text libvirt qemu json' -- "${cur#--format=}"))
                return 0
        fi
        if [[ $cur == --device=* ]]; then
                COMPREPLY=($(__hostdevctl_devices devices "${cur#--device=}"))
                COMPREPLY=("${COMPREPLY[@]/#/--device=}")
                return 0
        fi
        if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$options" -- "$cur"))
                [[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
                return 0
        fi

        case $noun/$verb in
        /)
                COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
        device/)
                COMPREPLY=($(compgen -W 'list show prepare release' -- "$cur")) ;;
        mdev/)
                COMPREPLY=($(compgen -W 'types list create remove import' -- "$cur")) ;;
        iommu/)
                COMPREPLY=($(compgen -W 'list show' -- "$cur")) ;;
        sriov/)
                COMPREPLY=($(compgen -W 'show set-vfs set-vf' -- "$cur")) ;;
        sriov/show|sriov/set-vfs)
                ((n_args == 0)) && COMPREPLY=($(__hostdevctl_devices devices "$cur")) ;;
        sriov/set-vf)
                if ((n_args == 0)); then
                        COMPREPLY=($(__hostdevctl_devices devices "$cur"))
                elif ((n_args >= 2)); then
                        COMPREPLY=($(compgen -W 'mac= vlan= qos= trust= spoofchk= link-state= max-tx-rate= min-tx-rate= persist=' -- "$cur"))
                        compopt -o nospace 2>/dev/null
                fi ;;
        group/)
                COMPREPLY=($(compgen -W 'list show create update delete prepare release rule' -- "$cur")) ;;
        device/show|device/prepare)
                COMPREPLY=($(__hostdevctl_devices devices "$cur")) ;;
        device/release)
                COMPREPLY=($(__hostdevctl_devices prepared-devices "$cur")) ;;
        iommu/show)
                ((n_args == 0)) && COMPREPLY=($(compgen -W "$(__hostdevctl_live iommu-groups)" -- "$cur")) ;;
        group/show|group/update|group/delete|group/prepare|group/release)
                ((n_args == 0)) && COMPREPLY=($(compgen -W "$(__hostdevctl_live groups)" -- "$cur")) ;;
        group/create)
                # NAME is new; the devices follow it.
                ((n_args >= 1)) && COMPREPLY=($(__hostdevctl_devices devices "$cur")) ;;
        claim/)
                COMPREPLY=($(compgen -W "list show release $(__hostdevctl_live groups)" -- "$cur")) ;;
        claim/show|claim/release|device/unclaim)
                ((n_args == 0)) && COMPREPLY=($(compgen -W "$(__hostdevctl_live claims)" -- "$cur")) ;;
        tenant/)
                COMPREPLY=($(compgen -W 'assign return' -- "$cur")) ;;
        tenant/assign|tenant/return)
                ((n_args == 0)) && COMPREPLY=($(compgen -W "$(__hostdevctl_live groups)" -- "$cur")) ;;
        group/rule)
                if [[ -z $sub ]]; then
                        COMPREPLY=($(compgen -W 'add remove' -- "$cur"))
                elif ((n_args == 0)); then
                        COMPREPLY=($(compgen -W "$(__hostdevctl_live groups)" -- "$cur"))
                fi ;;
        esac

        if declare -F __ltrim_colon_completions >/dev/null; then
                __ltrim_colon_completions "$cur"
        fi
        return 0
}

complete -F _hostdevctl hostdevctl
