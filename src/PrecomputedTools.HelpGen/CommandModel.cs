using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Reflection;

namespace PrecomputedTools.HelpGen;

/// <summary>A parameter as one parameter set sees it.</summary>
internal sealed record ParameterInSet(ParameterModel Parameter, string SetName, bool Mandatory, int Position, bool ByValue, bool ByPropertyName);

/// <summary>What reflection says about one cmdlet parameter.</summary>
internal sealed class ParameterModel
{
    public required string Name { get; init; }

    public required Type Type { get; init; }

    public required PropertyInfo Property { get; init; }

    public required IReadOnlyList<string> Aliases { get; init; }

    public required IReadOnlyList<string> AllowedValues { get; init; }

    public required bool Globbing { get; init; }

    public required string DefaultValue { get; init; }

    public List<string> Description { get; set; } = new();

    public List<ParameterInSet> Sets { get; } = new();

    public bool IsSwitch => Type == typeof(SwitchParameter);
}

/// <summary>What reflection says about one cmdlet class.</summary>
internal sealed class CommandModel
{
    public const string AllSets = ParameterAttribute.AllParameterSets;

    public required Type Type { get; init; }

    public required string Verb { get; init; }

    public required string Noun { get; init; }

    public string Name => Verb + "-" + Noun;

    public required bool SupportsShouldProcess { get; init; }

    public required string? DefaultParameterSet { get; init; }

    public required IReadOnlyList<Type> OutputTypes { get; init; }

    public List<ParameterModel> Parameters { get; } = new();

    /// <summary>Parameter-set names, the default first; a single unnamed set when none is declared.</summary>
    public List<string> SetNames { get; } = new();

    public static CommandModel FromType(Type type, CmdletAttribute cmdlet)
    {
        var model = new CommandModel
        {
            Type = type,
            Verb = cmdlet.VerbName,
            Noun = cmdlet.NounName,
            SupportsShouldProcess = cmdlet.SupportsShouldProcess,
            DefaultParameterSet = cmdlet.DefaultParameterSetName,
            OutputTypes = type.GetCustomAttributes<OutputTypeAttribute>()
                .SelectMany(o => o.Type)
                .Select(t => t.Type)
                .Where(t => t is not null)
                .Select(t => t!)
                .Distinct()
                .ToList(),
        };

        // A fresh instance gives the initial values, which are the defaults users get.
        object instance = Activator.CreateInstance(type)!;
        foreach (PropertyInfo property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).OrderBy(p => p.MetadataToken))
        {
            ParameterAttribute[] attributes = property.GetCustomAttributes<ParameterAttribute>().ToArray();
            if (attributes.Length == 0)
            {
                continue;
            }

            Type parameterType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var parameter = new ParameterModel
            {
                Name = property.Name,
                Type = parameterType,
                Property = property,
                Aliases = property.GetCustomAttributes<AliasAttribute>().SelectMany(a => a.AliasNames).ToList(),
                AllowedValues = property.GetCustomAttribute<ValidateSetAttribute>()?.ValidValues.ToList()
                    ?? (parameterType.IsEnum ? Enum.GetNames(parameterType).ToList() : new List<string>()),
                Globbing = property.GetCustomAttribute<SupportsWildcardsAttribute>() is not null,
                DefaultValue = FormatDefault(property.GetValue(instance), parameterType),
            };

            foreach (ParameterAttribute attribute in attributes)
            {
                string set = attribute.ParameterSetName ?? AllSets;
                parameter.Sets.Add(new ParameterInSet(parameter, set, attribute.Mandatory, attribute.Position, attribute.ValueFromPipeline, attribute.ValueFromPipelineByPropertyName));
                if (set != AllSets && !model.SetNames.Contains(set))
                {
                    model.SetNames.Add(set);
                }
            }

            model.Parameters.Add(parameter);
        }

        if (model.SetNames.Count == 0)
        {
            model.SetNames.Add(AllSets);
        }
        else if (model.DefaultParameterSet is { } first && model.SetNames.Remove(first))
        {
            model.SetNames.Insert(0, first);
        }

        return model;
    }

    /// <summary>The parameters of one set, in the order Get-Command -Syntax shows them.</summary>
    public List<ParameterInSet> ParametersOf(string set)
    {
        var result = new List<ParameterInSet>();
        foreach (ParameterModel parameter in Parameters)
        {
            if ((parameter.Sets.Find(p => p.SetName == set) ?? parameter.Sets.Find(p => p.SetName == AllSets)) is { } entry)
            {
                result.Add(entry);
            }
        }

        return result
            .OrderBy(p => p.Position < 0 ? int.MaxValue : p.Position)
            .ThenBy(p => p.Mandatory ? 0 : 1)
            .ThenBy(p => p.Parameter.IsSwitch ? 1 : 0)
            .ToList();
    }

    private static string FormatDefault(object? value, Type type)
    {
        switch (value)
        {
            case null:
                return "None";
            case SwitchParameter switchParameter:
                return switchParameter.IsPresent ? "True" : "False";
            case string text:
                return text.Length == 0 ? "None" : text;
            case IEnumerable sequence:
                string joined = string.Join(",", sequence.Cast<object>().Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)));
                return joined.Length == 0 ? "None" : joined;
            default:
                if (type.IsValueType && value.Equals(Activator.CreateInstance(type)) && type != typeof(int) && type != typeof(double))
                {
                    return "None";
                }

                return Convert.ToString(value, CultureInfo.InvariantCulture) ?? "None";
        }
    }
}
